package gatehouse_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential/basicauth"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// A change to a consumer that does not touch its credentials (a label, its
// description) keeps their verified checks: the next request with the same
// password pays no bcrypt, and runs as the changed consumer. Changing the
// password itself is verified again.
func TestConsumerChangeKeepsVerifiedPasswords(t *testing.T) {
	ctx := context.Background()
	checks := basicauth.NewLimiter(0)
	gw, err := gatehouse.New(ctx, memory.New(), gatehouse.WithPasswordChecks(checks, nil), gatehouse.WithRoutes(
		route.Route{ID: "pw", Plugins: map[string]json.RawMessage{"basic-auth": json.RawMessage(`{}`)}}))
	require.NoError(t, err)
	defer gw.Close()
	adm := gw.AdminHandler(admin.WithKey("k"))
	require.Contains(t, call(adm, "POST", "/api/consumers", `{"username":"bob","labels":{"tier":"free"}}`, "X-API-KEY", "k"), "201")
	require.Contains(t, call(adm, "POST", "/api/consumers/bob/credentials",
		`{"name":"pw","plugins":{"basic-auth":{"username":"bob","password":"bob-password"}}}`, "X-API-KEY", "k"), "201")

	tier := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := consumer.FromContext(r.Context())
		_, _ = w.Write([]byte(c.Labels["tier"]))
	})
	h := gw.Protect("pw", tier)
	basic := func(pass string) map[string]string {
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("bob:"+pass))}
	}
	eventually(t, h, "/", basic("bob-password"), http.StatusOK)
	compares := checks.Compares()
	require.Equal(t, "free", do(h, http.MethodGet, "/", basic("bob-password")).Body.String())
	require.Equal(t, compares, checks.Compares(), "a repeated pair is answered from the cache")

	require.Contains(t, call(adm, "PATCH", "/api/consumers/bob", `{"labels":{"tier":"gold"},"desc":"upgraded"}`, "X-API-KEY", "k"), "200")
	waitFor(t, func() bool { return do(h, http.MethodGet, "/", basic("bob-password")).Body.String() == "gold" })
	require.Equal(t, compares, checks.Compares(), "the consumer change cost no bcrypt")

	// A new password is checked for real, and the old one is refused.
	require.Contains(t, call(adm, "PATCH", "/api/consumers/bob/credentials/"+credentialID(t, adm, "bob"),
		`{"plugins":{"basic-auth":{"username":"bob","password":"new-password"}}}`, "X-API-KEY", "k"), "200")
	eventually(t, h, "/", basic("bob-password"), http.StatusUnauthorized)
	eventually(t, h, "/", basic("new-password"), http.StatusOK)
	require.Greater(t, checks.Compares(), compares)
}

// credentialID returns the id of username's only credential.
func credentialID(t *testing.T, adm http.Handler, username string) string {
	t.Helper()
	var list struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	out := call(adm, "GET", "/api/consumers/"+username+"/credentials", "", "X-API-KEY", "k")
	_, body, _ := strings.Cut(out, " ")
	require.NoError(t, json.Unmarshal([]byte(body), &list), out)
	require.Len(t, list.Items, 1)
	return list.Items[0].ID
}

// waitFor polls cond for up to 10 s (a poll may pay a bcrypt, slow under
// -race on a loaded machine).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}
