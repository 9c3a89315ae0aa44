package admin_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/credential/keyauth"
	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// Mount the admin API under /admin/ of an application's own mux.
func ExampleNew() {
	reg := plugin.NewRegistry(keyauth.Definition{})
	h := admin.New(memory.New(), reg, admin.WithKey("change-me"))

	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", h))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/admin/api/consumers",
		strings.NewReader(`{"username":"alice"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-KEY", "change-me")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Location"))

	// Without the admin key.
	resp, err = http.Get(srv.URL + "/admin/api/consumers")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode)
	// Output:
	// 201 /admin/api/consumers/alice
	// 401
}

// Serve the admin console at /admin/ui/ beside the API: the page asks for
// the admin key and calls /admin/api/ with it.
func ExampleWithConsole() {
	h := admin.New(memory.New(), plugin.NewRegistry(keyauth.Definition{}),
		admin.WithKey("change-me"), admin.WithConsole())
	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", h))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/admin/ui") // redirected to /admin/ui/
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Request.URL.Path, resp.Header.Get("X-Frame-Options"))
	// Output:
	// 200 /admin/ui/ DENY
}
