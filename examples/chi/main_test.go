package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestChiRouter(t *testing.T) {
	h, err := newRouter(t.Context(), "admin-key")
	if err != nil {
		t.Fatal(err)
	}
	send := func(method, path, body string, header ...string) (int, string) {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		b, _ := io.ReadAll(w.Body)
		return w.Code, string(b)
	}
	if code, _ := send("GET", "/orders/7", ""); code != http.StatusUnauthorized {
		t.Fatalf("without a key: %d, want 401", code)
	}
	if code, body := send("POST", "/admin/api/consumers", `{"username":"carol"}`, "X-API-KEY", "admin-key"); code != http.StatusCreated {
		t.Fatalf("create consumer: %d %s", code, body)
	}
	if code, body := send("POST", "/admin/api/consumers/carol/credentials",
		`{"name":"k","plugins":{"key-auth":{"key":"carol-secret-key"}}}`, "X-API-KEY", "admin-key"); code != http.StatusCreated {
		t.Fatalf("create key: %d %s", code, body)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		code, body := send("GET", "/orders/7", "", "apikey", "carol-secret-key")
		if code == http.StatusOK {
			if body != "order 7 for carol\n" {
				t.Fatalf("body %q", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("with the key: %d %s", code, body)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if code, _ := send("GET", "/healthz", ""); code != http.StatusOK {
		t.Fatalf("public route: %d", code)
	}
}
