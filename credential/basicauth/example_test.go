package basicauth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential/basicauth"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// Protect a handler with basic-auth: an operator gives a consumer a username
// and a password through the admin API (only a bcrypt hash is stored), and
// clients send them in an Authorization: Basic header.
func Example() {
	ctx := context.Background()
	gw, err := gatehouse.New(ctx, memory.New(),
		gatehouse.WithPlugins(basicauth.Definition{}),
		gatehouse.WithRoutes(route.Route{
			ID:      "reports",
			Plugins: map[string]json.RawMessage{"basic-auth": json.RawMessage(`{"hide_credentials":true}`)},
		}))
	if err != nil {
		panic(err)
	}
	defer gw.Close()

	send := func(h http.Handler, method, target, body string, header ...string) string {
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		b, _ := io.ReadAll(w.Body)
		return fmt.Sprintf("%d %s", w.Code, strings.TrimSpace(string(b)))
	}
	adm := gw.AdminHandler(admin.WithKey("admin-secret"))
	send(adm, "POST", "/api/consumers", `{"username":"alice"}`, "X-API-KEY", "admin-secret")
	fmt.Println(send(adm, "POST", "/api/consumers/alice/credentials",
		`{"id":"pw","name":"pw","plugins":{"basic-auth":{"username":"alice","password":"open:sesame"}}}`,
		"X-API-KEY", "admin-secret")[:3])
	// GET shows the username, never the password nor its hash.
	_, got, _ := strings.Cut(send(adm, "GET", "/api/consumers/alice/credentials/pw", "", "X-API-KEY", "admin-secret"), " ")
	var cred struct{ Plugins map[string]json.RawMessage }
	_ = json.Unmarshal([]byte(got), &cred)
	fmt.Println(string(cred.Plugins["basic-auth"]))
	_ = gw.Refresh(ctx) // only so that this example sees the writes at once

	reports := gw.Protect("reports", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := consumer.FromContext(r.Context())
		fmt.Fprintf(w, "reports of %s (Authorization %q)", c.Username, r.Header.Get("Authorization"))
	}))
	// "alice:open:sesame": the password is what follows the first colon.
	fmt.Println(send(reports, "GET", "/reports", "", "Authorization", "Basic YWxpY2U6b3BlbjpzZXNhbWU="))
	fmt.Println(send(reports, "GET", "/reports", ""))
	fmt.Println(send(reports, "GET", "/reports", "", "Authorization", "Basic YWxpY2U6b3Blbg=="))
	// Output:
	// 201
	// {"username":"alice"}
	// 200 reports of alice (Authorization "")
	// 401 {"message":"Missing authorization in request"}
	// 401 {"message":"Invalid user authorization"}
}

// Bound the CPU basic-auth spends on bcrypt: at most one comparison at once
// (a request that needs one while it runs is answered 503 with Retry-After),
// refusals answered after 50 ms (a client looping on wrong passwords is slowed
// down), and failures remembered as well as successes. The limiter's counters
// are meant for metrics.
func ExampleLimiter() {
	ctx := context.Background()
	limiter := basicauth.NewLimiter(1, basicauth.WithRefusalDelay(50*time.Millisecond))
	cache := basicauth.NewCache(0, basicauth.WithFailureCacheSize(50_000))
	gw, err := gatehouse.New(ctx, memory.New(),
		gatehouse.WithPasswordChecks(limiter, cache),
		gatehouse.WithRoutes(route.Route{
			ID:      "reports",
			Plugins: map[string]json.RawMessage{"basic-auth": json.RawMessage(`{}`)},
		}))
	if err != nil {
		panic(err)
	}
	defer gw.Close()
	reports := gw.Protect("reports", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))

	for range 3 { // an unknown user, three times: bcrypt once, then the cache
		r := httptest.NewRequest("GET", "/reports", nil)
		r.SetBasicAuth("mallory", "guess")
		w := httptest.NewRecorder()
		reports.ServeHTTP(w, r)
		fmt.Println(w.Code)
	}
	fmt.Println("bcrypt comparisons:", limiter.Compares(), "refused:", limiter.Refused())
	// Output:
	// 401
	// 401
	// 401
	// bcrypt comparisons: 1 refused: 0
}
