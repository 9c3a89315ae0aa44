package admin_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/credential/keyauth"
	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/restriction"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// FuzzAdminJSON posts arbitrary bodies to every collection: the answer is
// always JSON, a 2xx or a 4xx (never a 500), and one the OpenAPI document
// describes.
func FuzzAdminJSON(f *testing.F) {
	for _, seed := range []string{
		`{"username":"alice"}`,
		`{"username":"bob","labels":{"a":"b"},"plugins":{"key-auth":{"header":"x"}},"group_id":"g"}`,
		`{"name":"main","plugins":{"key-auth":{}}}`,
		`{"id":"c1","name":"k","plugins":{"key-auth":{"key":"abcdef123"}},"enabled":false,"expires_at":"2030-01-01T00:00:00Z","authorized_entities":["group_a"]}`,
		`{"name":"x","plugins":{"key-auth":{},"basic-auth":{}}}`,
		`{"frontend":{"paths":["/a"],"methods":["GET"]},"backend":{"target":"http://x:1"},"auth_mode":"any"}`,
		`{"id":"r1","groups":["g"],"plugins":{"key-auth":{"realm":"r"}}}`,
		`{"username":"bad name","group_id":"!"}`,
		`{"username":`,
		`{"a":1}{"b":2}`,
		`[]`,
		`null`,
		``,
		`"str"`,
		`{"plugins":{"key-auth":null}}`,
		`{"plugins":{"key-auth":"x"},"name":"n"}`,
		`{"expires_at":"tomorrow"}`,
		"{\"username\":\"\xff\xfe\"}",
		`{"id":"group_payment_apis","name":"Payment APIs","description":"d","metadata":{"department":"finance"},"tags":["payment","finance"]}`,
		`{"name":"g","tags":["a","a",""],"metadata":{"":"v"}}`,
		`{"name":null,"tags":"x","metadata":{"k":1}}`,
		"{\"name\":\"\xff\xfe\",\"tags\":[\"\xff\"]}",
		`{"name":"Premium Users","required_plugins":[{"name":"consumer-restriction","enabled":true,"stage":"pre_request","priority":1,"parallel":true,"settings":{"blacklist":["x"]}}]}`,
		`{"name":"g","required_plugins":[{"name":"consumer-restriction","stage":"later"},{"name":""},{"name":"nope","settings":[]}]}`,
		`{"user_id":"user123"}`,
		`{"user_id":"user123","expires_at":"2099-01-01T00:00:00Z"}`,
		`{"user_id":"a b","expires_at":"2001-01-01T00:00:00Z"}`,
	} {
		f.Add([]byte(seed))
	}
	st := memory.New()
	h := admin.New(st, plugin.NewRegistry(keyauth.Definition{}, restriction.Definition{}),
		admin.WithKey(testKey), admin.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	post := func(path string, body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body)))
		req.Header.Set("X-API-KEY", testKey)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, setup := range [][2]string{
			{"/api/consumers", `{"username":"fuzz"}`},
			{"/api/v1/gateways", `{"id":"gw","name":"gw"}`},
			{"/api/v1/gateways/gw/consumer-groups", `{"id":"cg","name":"fuzz"}`},
		} {
			if rec := post(setup[0], []byte(setup[1])); rec.Code != http.StatusCreated && rec.Code != http.StatusConflict {
				t.Fatalf("setup %s: %d %s", setup[0], rec.Code, rec.Body)
			}
		}
		for _, path := range []string{"/api/consumers", "/api/consumers/fuzz/credentials", "/api/routes", "/api/groups",
			"/api/v1/gateways", "/api/v1/gateways/gw/consumer-groups", "/api/v1/gateways/gw/consumer-groups/cg/keys"} {
			rec := post(path, body)
			if rec.Code >= 500 || rec.Code < 200 || (rec.Code >= 300 && rec.Code < 400) {
				t.Fatalf("POST %s %q: status %d: %s", path, body, rec.Code, rec.Body)
			}
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("POST %s %q: body is not JSON: %q", path, body, rec.Body)
			}
			if _, err := mustDoc(t).checkAnswer(http.MethodPost, path, rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
				t.Fatalf("POST %s %q: the answer is not the documented one: %v", path, body, err)
			}
		}
	})
}
