package config_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential/basicauth"
	"github.com/gatehousehq/gatehouse/internal/testenv"
	"github.com/gatehousehq/gatehouse/internal/testlog"
	"github.com/gatehousehq/gatehouse/keyring"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/gatehousehq/gatehouse/store/memory"
	"github.com/gatehousehq/gatehouse/store/postgres"
	"github.com/gatehousehq/gatehouse/store/sqlite"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// env is a store with a gateway on it, whose registry validates the files.
type env struct {
	store store.Store
	gw    *gatehouse.Gateway
	ring  *keyring.Ring
}

// backends are the stores every store-side test runs against.
var backends = []struct {
	name string
	open func(t *testing.T) store.Store
}{
	{"memory", func(*testing.T) store.Store { return memory.New() }},
	{"sqlite", func(t *testing.T) store.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "gatehouse.db"))
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}},
	{"postgres", func(t *testing.T) store.Store { // skipped without GATEHOUSE_TEST_POSTGRES
		dsn, schema := testenv.PostgresSchema(t)
		s, err := postgres.Open(context.Background(), dsn, postgres.WithSchema(schema))
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}},
}

// eachBackend runs test in parallel on each of the backends, with an env
// over a new store of that backend.
func eachBackend(t *testing.T, test func(t *testing.T, e *env)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			test(t, newEnv(t, b.open(t)))
		})
	}
}

func newEnv(t *testing.T, s store.Store) *env {
	t.Helper()
	ring, _ := keyring.Generate()
	gw, err := gatehouse.New(context.Background(), s, gatehouse.WithKeyRing(ring), gatehouse.WithLogger(discard()),
		// A limiter of its own: the default one is shared by the process,
		// and parallel tests would fill it (503).
		gatehouse.WithPasswordChecks(basicauth.NewLimiter(4), basicauth.NewCache(100)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = gw.Close() })
	return &env{store: s, gw: gw, ring: ring}
}

func (e *env) opts(more ...config.Option) []config.Option {
	return append([]config.Option{config.WithRegistry(e.gw.Registry())}, more...)
}

// apply parses text (with vars as its environment) and applies it.
func (e *env) apply(t *testing.T, text string, vars map[string]string, more ...config.Option) config.Result {
	t.Helper()
	f, err := config.Parse([]byte(text), config.WithLookupEnv(lookup(vars)))
	require.NoError(t, err)
	res, err := config.Apply(context.Background(), e.store, f, e.opts(more...)...)
	require.NoError(t, err)
	return res
}

// call sends a request through route id of the gateway and returns the
// status and the consumer the handler saw.
func (e *env) call(t *testing.T, routeID string, header ...string) (int, string) {
	t.Helper()
	require.NoError(t, e.gw.Refresh(context.Background()))
	h := e.gw.Protect(routeID, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := consumer.FromContext(r.Context())
		_, _ = w.Write([]byte(c.Username))
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, strings.TrimSpace(rec.Body.String())
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func signJWT(t *testing.T, key, secret string) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"key": key, "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(secret))
	require.NoError(t, err)
	return "Bearer " + tok
}

func lookup(vars map[string]string) config.LookupEnv {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

// secrets is the environment of fullConfig.
var secrets = map[string]string{
	"ALICE_KEY":      "alice-key-0123456789",
	"ALICE_PASSWORD": "alice-pa55word",
	"BOB_HMAC":       "bob-hmac-secret-0123456789abcdef",
	"BOB_JWT":        "bob-jwt-hs256-secret-0123456789abcdef",
	"CAROL_SECRET":   "carol-client-secret-0123",
	"CAROL_PUB":      ed25519PEM(),
}

// ed25519PEM returns a new Ed25519 public key in PEM (a jwt-auth EdDSA key).
func ed25519PEM() string {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// fullConfig has every kind of object and every credential scheme.
const fullConfig = `
plugins:
  limit-count: {count: 1000, time_window: 60, key_type: ip}
groups:
  - id: shop
    name: Shop APIs
    tags: [public]
  - id: internal
    name: Internal
consumer_groups:
  - id: premium
    name: Premium Users
    required_plugins:
      - name: advanced_rate_limiter
        settings: {limits: {per_user: {limit: 50, window: 1m}}}
consumers:
  - username: alice
    desc: the shop's first customer
    labels: {team: shop}
    group_id: premium
    credentials:
      - name: main
        authorized_entities: [group_shop]
        plugins: {key-auth: {key: "${ALICE_KEY}"}}
      - id: alice-basic
        name: basic
        authorized_entities: [group_shop]
        plugins: {basic-auth: {username: alice, password: "${ALICE_PASSWORD}"}}
  - username: bob
    plugins:
      limit-count: {count: 10, time_window: 60}
    credentials:
      - name: hmac
        plugins: {hmac-auth: {key_id: bob, secret_key: "${BOB_HMAC}"}}
      - name: jwt
        plugins: {jwt-auth: {key: bob, secret: "${BOB_JWT}", algorithm: HS256}}
  - username: carol
    credentials:
      - name: ed
        plugins: {jwt-auth: {key: carol-ed, algorithm: EdDSA, public_key: "${CAROL_PUB}"}}
      - id: carol-app
        name: carol-app
        authorized_entities: [group_shop]
        plugins:
          apikey-auth: {clientId: carol-app, clientSecret: "${CAROL_SECRET}", clientName: Carol's app}
routes:
  - id: orders
    groups: [shop]
    frontend: {paths: [/orders]}
    plugins: {key-auth: {}}
  - id: basic
    groups: [shop]
    frontend: {paths: [/basic]}
    plugins: {basic-auth: {}}
  - id: jwt
    frontend: {paths: [/jwt]}
    plugins: {jwt-auth: {}}
  - id: apikeys
    groups: [shop]
    frontend: {paths: [/apikeys]}
    plugins: {apikey-auth: {}}
`

// discard logs nowhere but the suite's log (testlog), which is searched for
// the tests' secrets.
func discard() *slog.Logger { return testlog.New(io.Discard) }

func memoryStore() store.Store { return memory.New() }
