package hmacauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/credential/hmacauth"
	"github.com/gatehousehq/gatehouse/keyring"
	"github.com/gatehousehq/gatehouse/validation"
)

const (
	aliceSecret = "alice-secret-key-0001"
	bobSecret   = "bob-secret-key-000002"
	challenge   = `Signature realm="hmac"`
)

// routes used by most tests.
var testRoutes = map[string]string{
	"r":        `{}`,
	"sha256":   `{"allowed_algorithms":["hmac-sha256"]}`,
	"sha1":     `{"allowed_algorithms":["hmac-sha1","hmac-sha512"]}`,
	"signed":   `{"signed_headers":["X-Custom-A","@request-target"]}`,
	"body":     `{"validate_request_body":true,"max_req_body":64}`,
	"replay":   `{"replay_protection":true}`,
	"noskew":   `{"clock_skew":0}`,
	"hide":     `{"hide_credentials":true}`,
	"anon":     `{"anonymous_consumer":"guest"}`,
	"realm":    `{"realm":"orders"}`,
	"skew10":   `{"clock_skew":10}`,
	"bodycap":  `{"max_req_body":16}`,
	"noreplay": `{"replay_protection":false}`,
}

func newTestEnv(t *testing.T) *env {
	e := newEnv(t, testRoutes)
	e.credential(t, "alice", "a1", "alice-key", aliceSecret)
	e.credential(t, "bob", "b1", "bob-key", bobSecret)
	e.credential(t, "carol", "off", "off-key", aliceSecret)
	e.credential(t, "carol", "old", "old-key", aliceSecret)
	code, body := e.admin(t, http.MethodPatch, "/api/consumers/carol/credentials/off", `{"enabled":false}`)
	require.Equal(t, http.StatusOK, code, body)
	code, body = e.admin(t, http.MethodPatch, "/api/consumers/carol/credentials/old",
		`{"expires_at":"`+t0.Add(-time.Minute).Format(time.RFC3339)+`"}`)
	require.Equal(t, http.StatusOK, code, body)
	code, body = e.admin(t, http.MethodPost, "/api/consumers", `{"username":"guest"}`)
	require.Equal(t, http.StatusCreated, code, body)
	e.refresh(t)
	return e
}

// TestFixedVector pins the signing string: a fixed secret, request and date
// give a signature computed once, independently, and written here.
func TestFixedVector(t *testing.T) {
	const (
		secret = "gatehouse-fixed-secret-01"
		want   = "3GHxwWQjXGiLkKT4VtG0J5HsMq1GOXRGrBhhKLOGYfA="
	)
	r := request(http.MethodGet, "/orders/7?expand=items&x=1", "")
	r.Header.Set("X-Custom", "hello")
	str := signingString(r, "fixed-key-01", []string{"@request-target", "date", "x-custom"})
	require.Equal(t, "fixed-key-01\nGET /orders/7?expand=items&x=1\ndate: Fri, 06 Sep 2024 06:41:29 GMT\nx-custom: hello\n", str)
	require.Equal(t, want, hmacB64("hmac-sha256", secret, str))

	e := newEnv(t, map[string]string{"r": `{}`})
	e.credential(t, "alice", "a1", "fixed-key-01", secret)
	e.refresh(t)
	r.Header.Set("Authorization", `Signature keyId="fixed-key-01",algorithm="hmac-sha256",headers="@request-target date x-custom",signature="`+want+`"`)
	w := e.serve("r", r)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, "alice", decode(t, w).User)
}

// TestFixedVectorRFC9421 pins the RFC 9421 signature base the same way.
func TestFixedVectorRFC9421(t *testing.T) {
	const (
		secret = "gatehouse-fixed-secret-01"
		body   = `{"hello": "world"}`
		want   = "UxHraLDj+5OpBb3CInfuvOrEstVMuanAvaR+KBDF/Rc="
	)
	e := newEnv(t, map[string]string{"r": `{}`})
	e.credential(t, "alice", "a1", "fixed-key-01", secret)
	e.refresh(t)
	r := request(http.MethodPost, "/orders?id=7", body)
	r.Header.Set("Content-Digest", "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:")
	require.Equal(t, r.Header.Get("Content-Digest"), hmacauth.ContentDigest([]byte(body)))
	r.Header.Set("Signature-Input", `sig1=("@method" "@authority" "@path" "@query" "content-digest" "date");created=1725604889;keyid="fixed-key-01";alg="hmac-sha256";nonce="n-1"`)
	r.Header.Set("Signature", "sig1=:"+want+":")
	base, _ := signatureBase(r, []string{"@method", "@authority", "@path", "@query", "content-digest", "date"},
		`;created=1725604889;keyid="fixed-key-01";alg="hmac-sha256";nonce="n-1"`)
	require.Equal(t, want, hmacB64("hmac-sha256", secret, base))
	w := e.serve("r", r)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	s := decode(t, w)
	require.Equal(t, "alice", s.User)
	require.Equal(t, body, s.Body)
}

func TestAPISIXFormat(t *testing.T) {
	e := newTestEnv(t)
	std := []string{"@request-target", "date"}
	tests := []struct {
		name    string
		route   string
		method  string
		target  string
		body    string
		prepare func(r *http.Request)
		status  int
		user    string
		missing bool
	}{
		{name: "valid", prepare: func(r *http.Request) { sign(r, "alice-key", aliceSecret, "hmac-sha256", std...) }, user: "alice"},
		{name: "other consumer", prepare: func(r *http.Request) { sign(r, "bob-key", bobSecret, "hmac-sha256", std...) }, user: "bob"},
		{name: "scheme is case-insensitive", prepare: func(r *http.Request) {
			sign(r, "alice-key", aliceSecret, "hmac-sha256", std...)
			r.Header.Set("Authorization", "signature "+strings.TrimPrefix(r.Header.Get("Authorization"), "Signature "))
		}, user: "alice"},
		{name: "spaces around parameters", prepare: func(r *http.Request) {
			sign(r, "alice-key", aliceSecret, "hmac-sha256", std...)
			r.Header.Set("Authorization", strings.ReplaceAll(r.Header.Get("Authorization"), `",`, `" , `))
		}, user: "alice"},
		{name: "query string is signed", target: "/orders?b=2&a=1", prepare: func(r *http.Request) { sign(r, "alice-key", aliceSecret, "hmac-sha256", std...) }, user: "alice"},
		{name: "custom headers", prepare: func(r *http.Request) {
			r.Header.Set("X-Custom-A", "a")
			r.Header.Add("X-Multi", "1")
			r.Header.Add("X-Multi", "2")
			sig := hmacB64("hmac-sha256", aliceSecret, "alice-key\nGET /orders\ndate: "+t0.Format(http.TimeFormat)+"\nx-custom-a: a\nx-multi: 1, 2\n")
			r.Header.Set("Authorization", `Signature keyId="alice-key",algorithm="hmac-sha256",headers="@request-target date X-Custom-A x-multi",signature="`+sig+`"`)
		}, user: "alice"},
		{name: "sha1", prepare: func(r *http.Request) { sign(r, "alice-key", aliceSecret, "hmac-sha1", std...) }, user: "alice"},
		{name: "sha512", prepare: func(r *http.Request) { sign(r, "alice-key", aliceSecret, "hmac-sha512", std...) }, user: "alice"},
		{name: "sha1 allowed", route: "sha1", prepare: func(r *http.Request) { sign(r, "alice-key", aliceSecret, "hmac-sha1", std...) }, user: "alice"},
		{name: "sha512 allowed", route: "sha1", prepare: func(r *http.Request) { sign(r, "alice-key", aliceSecret, "hmac-sha512", std...) }, user: "alice"},
		{name: "sha256 allowed", route: "sha256", prepare: func(r *http.Request) { sign(r, "alice-key", aliceSecret, "hmac-sha256", std...) }, user: "alice"},
		{name: "sha256 not allowed", route: "sha1", prepare: func(r *http.Request) { sign(r, "alice-key", aliceSecret, "hmac-sha256", std...) }},
		{name: "sha1 not allowed", route: "sha256", prepare: func(r *http.Request) { sign(r, "alice-key", aliceSecret, "hmac-sha1", std...) }},
		{name: "unknown algorithm", prepare: func(r *http.Request) {
			sign(r, "alice-key", aliceSecret, "hmac-sha256", std...)
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "hmac-sha256", "hmac-md5", 1))
		}},
		{name: "missing", prepare: func(*http.Request) {}, missing: true},
		{name: "basic is not a signature", prepare: func(r *http.Request) { r.Header.Set("Authorization", "Basic YTpi") }, missing: true},
		{name: "empty signature scheme", prepare: func(r *http.Request) { r.Header.Set("Authorization", "Signature ") }},
		{name: "unquoted garbage", prepare: func(r *http.Request) { r.Header.Set("Authorization", "Signature keyId") }},
		{name: "no signature parameter", prepare: func(r *http.Request) {
			r.Header.Set("Authorization", `Signature keyId="alice-key",algorithm="hmac-sha256",headers="@request-target date"`)
		}},
		{name: "no algorithm", prepare: func(r *http.Request) {
			r.Header.Set("Authorization", `Signature keyId="alice-key",headers="@request-target date",signature="AAAA"`)
		}},
		{name: "no comma", prepare: func(r *http.Request) {
			sign(r, "alice-key", aliceSecret, "hmac-sha256", std...)
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), `",algorithm`, `" algorithm`, 1))
		}},
		{name: "unterminated quote", prepare: func(r *http.Request) {
			r.Header.Set("Authorization", `Signature keyId="alice-key,algorithm="hmac-sha256",signature="AAAA`)
		}},
		{name: "repeated keyId", prepare: func(r *http.Request) {
			sign(r, "alice-key", aliceSecret, "hmac-sha256", std...)
			r.Header.Set("Authorization", r.Header.Get("Authorization")+`,keyId="bob-key"`)
		}},
		{name: "signature not base64", prepare: func(r *http.Request) {
			r.Header.Set("Authorization", `Signature keyId="alice-key",algorithm="hmac-sha256",headers="@request-target date",signature="not base64!"`)
		}},
		{name: "signature truncated", prepare: func(r *http.Request) {
			sign(r, "alice-key", aliceSecret, "hmac-sha256", std...)
			v := r.Header.Get("Authorization")
			r.Header.Set("Authorization", v[:len(v)-6]+`"`)
		}},
		{name: "unknown keyId", prepare: func(r *http.Request) { sign(r, "nobody-key", aliceSecret, "hmac-sha256", std...) }},
		{name: "wrong secret", prepare: func(r *http.Request) { sign(r, "alice-key", bobSecret, "hmac-sha256", std...) }},
		{name: "other consumer's key id", prepare: func(r *http.Request) { sign(r, "bob-key", aliceSecret, "hmac-sha256", std...) }},
		{name: "tampered method", prepare: func(r *http.Request) {
			sign(r, "alice-key", aliceSecret, "hmac-sha256", std...)
			r.Method = http.MethodDelete
		}},
		{name: "tampered path", prepare: func(r *http.Request) {
			sign(r, "alice-key", aliceSecret, "hmac-sha256", std...)
			r.RequestURI, r.URL.Path = "/admin", "/admin"
		}},
		{name: "tampered query", target: "/orders?id=1", prepare: func(r *http.Request) {
			sign(r, "alice-key", aliceSecret, "hmac-sha256", std...)
			r.RequestURI, r.URL.RawQuery = "/orders?id=2", "id=2"
		}},
		{name: "tampered header", prepare: func(r *http.Request) {
			r.Header.Set("X-Custom-A", "a")
			sign(r, "alice-key", aliceSecret, "hmac-sha256", "@request-target", "date", "x-custom-a")
			r.Header.Set("X-Custom-A", "b")
		}},
		{name: "signed header absent", prepare: func(r *http.Request) {
			sign(r, "alice-key", aliceSecret, "hmac-sha256", "@request-target", "date", "x-absent")
		}},
		{name: "date too old", prepare: func(r *http.Request) {
			r.Header.Set("Date", t0.Add(-301*time.Second).Format(http.TimeFormat))
			sign(r, "alice-key", aliceSecret, "hmac-sha256", std...)
		}},
		{name: "date at the skew limit", prepare: func(r *http.Request) {
			r.Header.Set("Date", t0.Add(-300*time.Second).Format(http.TimeFormat))
			sign(r, "alice-key", aliceSecret, "hmac-sha256", std...)
		}, user: "alice"},
		{name: "date in the future", prepare: func(r *http.Request) {
			r.Header.Set("Date", t0.Add(301*time.Second).Format(http.TimeFormat))
			sign(r, "alice-key", aliceSecret, "hmac-sha256", std...)
		}},
		{name: "date within a small skew", route: "skew10", prepare: func(r *http.Request) {
			r.Header.Set("Date", t0.Add(10*time.Second).Format(http.TimeFormat))
			sign(r, "alice-key", aliceSecret, "hmac-sha256", std...)
		}, user: "alice"},
		{name: "date outside a small skew", route: "skew10", prepare: func(r *http.Request) {
			r.Header.Set("Date", t0.Add(-11*time.Second).Format(http.TimeFormat))
			sign(r, "alice-key", aliceSecret, "hmac-sha256", std...)
		}},
		{name: "date unreadable", prepare: func(r *http.Request) {
			r.Header.Set("Date", "yesterday")
			sign(r, "alice-key", aliceSecret, "hmac-sha256", std...)
		}},
		{name: "date missing", prepare: func(r *http.Request) {
			sign(r, "alice-key", aliceSecret, "hmac-sha256", std...)
			r.Header.Del("Date")
		}},
		{name: "date not signed", prepare: func(r *http.Request) { sign(r, "alice-key", aliceSecret, "hmac-sha256", "@request-target") }},
		{name: "date not needed without skew", route: "noskew", prepare: func(r *http.Request) {
			r.Header.Set("Date", t0.Add(-24*time.Hour).Format(http.TimeFormat))
			sign(r, "alice-key", aliceSecret, "hmac-sha256", "@request-target")
		}, user: "alice"},
		{name: "old date without skew", route: "noskew", prepare: func(r *http.Request) {
			r.Header.Set("Date", t0.Add(-24*time.Hour).Format(http.TimeFormat))
			sign(r, "alice-key", aliceSecret, "hmac-sha256", std...)
		}, user: "alice"},
		{name: "signed_headers satisfied", route: "signed", prepare: func(r *http.Request) {
			r.Header.Set("X-Custom-A", "a")
			sign(r, "alice-key", aliceSecret, "hmac-sha256", "@request-target", "date", "x-custom-a")
		}, user: "alice"},
		{name: "signed_headers missing", route: "signed", prepare: func(r *http.Request) {
			r.Header.Set("X-Custom-A", "a")
			sign(r, "alice-key", aliceSecret, "hmac-sha256", std...)
		}},
		{name: "signed_headers needs request target", route: "signed", prepare: func(r *http.Request) {
			r.Header.Set("X-Custom-A", "a")
			sign(r, "alice-key", aliceSecret, "hmac-sha256", "date", "x-custom-a")
		}},
		{name: "disabled credential", prepare: func(r *http.Request) { sign(r, "off-key", aliceSecret, "hmac-sha256", std...) }},
		{name: "expired credential", prepare: func(r *http.Request) { sign(r, "old-key", aliceSecret, "hmac-sha256", std...) }},
		{name: "other realm", route: "realm", prepare: func(*http.Request) {}, missing: true},
		{name: "anonymous on failure", route: "anon", prepare: func(r *http.Request) { sign(r, "alice-key", bobSecret, "hmac-sha256", std...) }, user: "guest"},
		{name: "anonymous when missing", route: "anon", prepare: func(*http.Request) {}, user: "guest"},
		{name: "signed anonymous route", route: "anon", prepare: func(r *http.Request) { sign(r, "alice-key", aliceSecret, "hmac-sha256", std...) }, user: "alice"},
		{name: "digest not checked by default", method: http.MethodPost, body: "hello", prepare: func(r *http.Request) {
			r.Header.Set("Digest", "SHA-256="+digestOf("other"))
			sign(r, "alice-key", aliceSecret, "hmac-sha256", std...)
		}, user: "alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			route, method, target := tt.route, tt.method, tt.target
			if route == "" {
				route = "r"
			}
			if method == "" {
				method = http.MethodGet
			}
			if target == "" {
				target = "/orders"
			}
			r := request(method, target, tt.body)
			tt.prepare(r)
			w := e.serve(route, r)
			if tt.user != "" {
				require.Equal(t, http.StatusOK, w.Code, w.Body.String())
				require.Equal(t, tt.user, decode(t, w).User)
				return
			}
			require.Equal(t, http.StatusUnauthorized, w.Code, w.Body.String())
			require.JSONEq(t, `{"message":"client request can't be validated"}`, w.Body.String())
			want := challenge
			if route == "realm" {
				want = `Signature realm="orders"`
			}
			require.Equal(t, want, w.Header().Get("WWW-Authenticate"))
		})
	}
}

func TestMissingIsMissing(t *testing.T) {
	p, err := hmacauth.Definition{}.New(json.RawMessage(`{}`))
	require.NoError(t, err)
	a := p.(*hmacauth.Authenticator)
	for _, set := range []func(r *http.Request){
		func(*http.Request) {},
		func(r *http.Request) { r.Header.Set("Authorization", "Bearer x") },
		func(r *http.Request) { r.Header.Set("Authorization", "Signaturex") },
	} {
		r := request(http.MethodGet, "/", "")
		set(r)
		_, err := a.Authenticate(r, nil)
		var ae *credential.AuthError
		require.True(t, errors.As(err, &ae))
		require.True(t, ae.Missing)
		require.Equal(t, http.StatusUnauthorized, ae.Status)
	}
	r := request(http.MethodGet, "/", "")
	r.Header.Set("Authorization", "Signature nonsense")
	_, err = a.Authenticate(r, nil)
	var ae *credential.AuthError
	require.True(t, errors.As(err, &ae))
	require.False(t, ae.Missing, "a malformed signature is not a missing one")
}

func TestRequestBody(t *testing.T) {
	e := newTestEnv(t)
	std := []string{"@request-target", "date"}
	const body = `{"name": "world"}`

	// A matching digest: the handler still reads the whole body.
	r := request(http.MethodPost, "/orders", body)
	r.Header.Set("Digest", "SHA-256="+digestOf(body))
	sign(r, "alice-key", aliceSecret, "hmac-sha256", std...)
	w := e.serve("body", r)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, body, decode(t, w).Body)

	// RFC 3230 lists: every known digest must match.
	r = request(http.MethodPost, "/orders", body)
	r.Header.Set("Digest", "MD5=abc, SHA-256="+digestOf(body))
	sign(r, "alice-key", aliceSecret, "hmac-sha256", std...)
	require.Equal(t, http.StatusOK, e.serve("body", r).Code)

	for name, set := range map[string]func(r *http.Request){
		"mismatch":       func(r *http.Request) { r.Header.Set("Digest", "SHA-256="+digestOf("other")) },
		"missing":        func(*http.Request) {},
		"not base64":     func(r *http.Request) { r.Header.Set("Digest", "SHA-256=???") },
		"unknown only":   func(r *http.Request) { r.Header.Set("Digest", "MD5=abc") },
		"malformed":      func(r *http.Request) { r.Header.Set("Digest", "SHA-256") },
		"second differs": func(r *http.Request) { r.Header.Set("Digest", "SHA-256="+digestOf(body)+",SHA-256="+digestOf("x")) },
	} {
		t.Run(name, func(t *testing.T) {
			r := request(http.MethodPost, "/orders", body)
			set(r)
			sign(r, "alice-key", aliceSecret, "hmac-sha256", std...)
			w := e.serve("body", r)
			require.Equal(t, http.StatusUnauthorized, w.Code, w.Body.String())
			require.JSONEq(t, `{"message":"client request can't be validated"}`, w.Body.String())
		})
	}

	// Over max_req_body (64 bytes): 413, whether or not the length is known.
	big := strings.Repeat("x", 65)
	for _, chunked := range []bool{false, true} {
		r = request(http.MethodPost, "/orders", big)
		if chunked {
			r.ContentLength = -1
		}
		r.Header.Set("Digest", "SHA-256="+digestOf(big))
		sign(r, "alice-key", aliceSecret, "hmac-sha256", std...)
		w = e.serve("body", r)
		require.Equal(t, http.StatusRequestEntityTooLarge, w.Code, w.Body.String())
		require.JSONEq(t, `{"message":"request body is too large"}`, w.Body.String())
	}
	// At the cap exactly: accepted.
	exact := strings.Repeat("x", 64)
	r = request(http.MethodPost, "/orders", exact)
	r.ContentLength = -1
	r.Header.Set("Digest", "SHA-256="+digestOf(exact))
	sign(r, "alice-key", aliceSecret, "hmac-sha256", std...)
	w = e.serve("body", r)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, exact, decode(t, w).Body)
}

func TestReplay(t *testing.T) {
	e := newTestEnv(t)
	r := request(http.MethodGet, "/replayed", "")
	r.Header.Set("X-Request-Id", strconv.FormatInt(time.Now().UnixNano(), 10))
	sign(r, "alice-key", aliceSecret, "hmac-sha256", "@request-target", "date", "x-request-id")
	again := func(route string) int {
		r2 := r.Clone(context.Background())
		return e.serve(route, r2).Code
	}
	// Without replay protection the same signature passes twice.
	require.Equal(t, http.StatusOK, again("noreplay"))
	require.Equal(t, http.StatusOK, again("noreplay"))
	// With it, only once.
	require.Equal(t, http.StatusOK, again("replay"))
	require.Equal(t, http.StatusUnauthorized, again("replay"))
	// A failed signature is not remembered: it cannot lock out the real one.
	r3 := request(http.MethodGet, "/replayed", "")
	sign(r3, "alice-key", bobSecret, "hmac-sha256", "@request-target", "date")
	require.Equal(t, http.StatusUnauthorized, e.serve("replay", r3).Code)
	r4 := request(http.MethodGet, "/replayed", "")
	r4.Header.Set("X-Request-Id", strconv.FormatInt(time.Now().UnixNano(), 10)+"-r4") // the replay cache is the process's
	sign(r4, "alice-key", aliceSecret, "hmac-sha256", "@request-target", "date", "x-request-id")
	require.Equal(t, http.StatusOK, e.serve("replay", r4).Code)
}

func TestHideCredentials(t *testing.T) {
	e := newTestEnv(t)
	r := request(http.MethodGet, "/orders", "")
	sign(r, "alice-key", aliceSecret, "hmac-sha256", "@request-target", "date")
	w := e.serve("hide", r)
	require.Equal(t, http.StatusOK, w.Code)
	require.Empty(t, decode(t, w).Authorization)

	r = request(http.MethodGet, "/orders", "")
	sign(r, "alice-key", aliceSecret, "hmac-sha256", "@request-target", "date")
	w = e.serve("r", r)
	require.NotEmpty(t, decode(t, w).Authorization)

	r = request(http.MethodGet, "/orders", "")
	sign9421(r, aliceSecret, []string{"@method", "@path"}, `;created=1725604889;keyid="alice-key"`)
	w = e.serve("hide", r)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Empty(t, decode(t, w).Signature)
}

func TestCredentialLifecycle(t *testing.T) {
	e := newTestEnv(t)
	std := []string{"@request-target", "date"}
	call := func(secret, keyID string) int {
		r := request(http.MethodGet, "/orders", "")
		sign(r, keyID, secret, "hmac-sha256", std...)
		return e.serve("r", r).Code
	}
	require.Equal(t, http.StatusOK, call(aliceSecret, "alice-key"))

	// GET never shows the secret; the store keeps it only sealed.
	code, body := e.admin(t, http.MethodGet, "/api/consumers/alice/credentials/a1", "")
	require.Equal(t, http.StatusOK, code)
	require.NotContains(t, body, aliceSecret)
	var got struct {
		Plugins map[string]json.RawMessage `json:"plugins"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &got))
	require.JSONEq(t, `{"key_id":"alice-key"}`, string(got.Plugins["hmac-auth"]))
	stored, err := e.st.GetCredential(context.Background(), "alice", "a1")
	require.NoError(t, err)
	raw := string(stored.Plugins["hmac-auth"])
	require.NotContains(t, raw, aliceSecret)
	require.Contains(t, raw, `"secret_key_sealed":"gh1.`)
	require.Equal(t, "hmac-auth:alice-key", stored.Lookup)

	// key_id is unique across consumers.
	code, body = e.admin(t, http.MethodPost, "/api/consumers/bob/credentials",
		`{"name":"dup","plugins":{"hmac-auth":{"key_id":"alice-key","secret_key":"another-secret-key-123"}}}`)
	require.Equal(t, http.StatusConflict, code, body)
	require.NotContains(t, body, "another-secret-key-123")

	// A PUT without secret_key keeps the secret.
	code, body = e.admin(t, http.MethodPut, "/api/consumers/alice/credentials/a1",
		`{"name":"a1","plugins":{"hmac-auth":{"key_id":"alice-key"}}}`)
	require.Equal(t, http.StatusOK, code, body)
	require.NotContains(t, body, "secret_key")
	e.refresh(t)
	require.Equal(t, http.StatusOK, call(aliceSecret, "alice-key"))

	// A new secret through the admin API (PATCH) takes effect.
	const newSecret = "alice-new-secret-0002"
	code, body = e.admin(t, http.MethodPatch, "/api/consumers/alice/credentials/a1",
		`{"plugins":{"hmac-auth":{"secret_key":"`+newSecret+`"}}}`)
	require.Equal(t, http.StatusOK, code, body)
	require.NotContains(t, body, newSecret)
	e.refresh(t)
	require.Equal(t, http.StatusUnauthorized, call(aliceSecret, "alice-key"))
	require.Equal(t, http.StatusOK, call(newSecret, "alice-key"))

	// Renaming the key id keeps the secret and frees the old id.
	code, body = e.admin(t, http.MethodPatch, "/api/consumers/alice/credentials/a1", `{"plugins":{"hmac-auth":{"key_id":"alice-key-2"}}}`)
	require.Equal(t, http.StatusOK, code, body)
	e.refresh(t)
	require.Equal(t, http.StatusUnauthorized, call(newSecret, "alice-key"))
	require.Equal(t, http.StatusOK, call(newSecret, "alice-key-2"))

	// Disabling and deleting take effect.
	code, _ = e.admin(t, http.MethodPatch, "/api/consumers/alice/credentials/a1", `{"enabled":false}`)
	require.Equal(t, http.StatusOK, code)
	e.refresh(t)
	require.Equal(t, http.StatusUnauthorized, call(newSecret, "alice-key-2"))
	code, _ = e.admin(t, http.MethodPatch, "/api/consumers/alice/credentials/a1", `{"enabled":true}`)
	require.Equal(t, http.StatusOK, code)
	e.refresh(t)
	require.Equal(t, http.StatusOK, call(newSecret, "alice-key-2"))
	code, _ = e.admin(t, http.MethodDelete, "/api/consumers/alice/credentials/a1", "")
	require.Equal(t, http.StatusNoContent, code)
	e.refresh(t)
	require.Equal(t, http.StatusUnauthorized, call(newSecret, "alice-key-2"))
}

func TestGeneratedSecret(t *testing.T) {
	e := newTestEnv(t)
	code, body := e.admin(t, http.MethodPost, "/api/consumers/bob/credentials",
		`{"id":"gen","name":"gen","plugins":{"hmac-auth":{"key_id":"bob-generated"}}}`)
	require.Equal(t, http.StatusCreated, code, body)
	var created struct {
		Plugins map[string]map[string]string `json:"plugins"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &created))
	secret := created.Plugins["hmac-auth"]["secret_key"]
	require.Len(t, secret, 43, "32 random bytes, base64url")
	require.Equal(t, "bob-generated", created.Plugins["hmac-auth"]["key_id"])
	e.refresh(t)

	r := request(http.MethodGet, "/orders", "")
	sign(r, "bob-generated", secret, "hmac-sha256", "@request-target", "date")
	w := e.serve("r", r)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, "bob", decode(t, w).User)

	code, body = e.admin(t, http.MethodGet, "/api/consumers/bob/credentials/gen", "")
	require.Equal(t, http.StatusOK, code)
	require.NotContains(t, body, secret)
	require.NotContains(t, body, "secret_key")
}

func TestCredentialValidation(t *testing.T) {
	e := newTestEnv(t)
	for _, tt := range []struct{ settings, field string }{
		{`{"secret_key":"alice-secret-key-0001"}`, "plugins.hmac-auth.key_id"},
		{`{"key_id":"has space","secret_key":"alice-secret-key-0001"}`, "plugins.hmac-auth.key_id"},
		{`{"key_id":"quote\"d","secret_key":"alice-secret-key-0001"}`, "plugins.hmac-auth.key_id"},
		{`{"key_id":"` + strings.Repeat("k", 257) + `","secret_key":"alice-secret-key-0001"}`, "plugins.hmac-auth.key_id"},
		{`{"key_id":"short-secret","secret_key":"too-short"}`, "plugins.hmac-auth.secret_key"},
		{`{"key_id":"x","secret_key":"alice-secret-key-0001","extra":1}`, "plugins.hmac-auth.extra"},
		{`{"key_id":1}`, "plugins.hmac-auth.key_id"},
	} {
		code, body := e.admin(t, http.MethodPost, "/api/consumers/bob/credentials", `{"name":"v","plugins":{"hmac-auth":`+tt.settings+`}}`)
		require.Equal(t, http.StatusBadRequest, code, tt.settings)
		var out struct {
			Fields map[string]string `json:"fields"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &out))
		require.Contains(t, out.Fields, tt.field, body)
		require.NotContains(t, body, "alice-secret-key-0001")
	}
}

func TestSettingsValidation(t *testing.T) {
	for _, tt := range []struct{ settings, field string }{
		{`{"allowed_algorithms":["hmac-md5"]}`, "allowed_algorithms"},
		{`{"allowed_algorithms":[]}`, "allowed_algorithms"},
		{`{"clock_skew":-1}`, "clock_skew"},
		{`{"clock_skew":86401}`, "clock_skew"},
		{`{"clock_skew":"300"}`, "clock_skew"},
		{`{"max_req_body":0}`, "max_req_body"},
		{`{"max_req_body":1073741825}`, "max_req_body"},
		{`{"signed_headers":["bad header"]}`, "signed_headers"},
		{`{"replay_protection":true,"clock_skew":0}`, "replay_protection"},
		{`{"realm":"a\"b"}`, "realm"},
		{`{"nope":1}`, "nope"},
	} {
		_, err := hmacauth.Definition{}.New(json.RawMessage(tt.settings))
		require.ErrorIs(t, err, validation.ErrInvalid, tt.settings)
		var ve *validation.Error
		require.True(t, errors.As(err, &ve))
		require.Contains(t, ve.Fields, tt.field, tt.settings)
	}
	_, err := hmacauth.Definition{}.New(json.RawMessage(`{"allowed_algorithms":["hmac-sha256"],"clock_skew":0,"signed_headers":["date","@request-target"],"validate_request_body":true,"max_req_body":10,"hide_credentials":true,"anonymous_consumer":"x","realm":"r"}`))
	require.NoError(t, err)
}

func TestNoKeyRing(t *testing.T) {
	d := hmacauth.Definition{}
	_, err := d.Seal(json.RawMessage(`{"key_id":"k","secret_key":"0123456789abcdef"}`), nil)
	require.ErrorIs(t, err, hmacauth.ErrNoKeyRing)
	_, err = d.Compile(json.RawMessage(`{"key_id":"k","secret_key_sealed":"gh1.x.y"}`))
	require.ErrorIs(t, err, hmacauth.ErrNoKeyRing)

	ring, _ := keyring.Generate()
	other, _ := keyring.Generate()
	s, err := hmacauth.Definition{Ring: ring}.Seal(json.RawMessage(`{"key_id":"k","secret_key":"0123456789abcdef"}`), nil)
	require.NoError(t, err)
	secret, err := hmacauth.Definition{Ring: ring}.Compile(s.Stored)
	require.NoError(t, err)
	require.NotNil(t, secret)                                   // keyed HMACs; the requests signed with it are tested through the gateway
	_, err = hmacauth.Definition{Ring: other}.Compile(s.Stored) // same key id, another key
	require.ErrorIs(t, err, keyring.ErrCorrupt)
	require.NotContains(t, err.Error(), "0123456789abcdef")
}

// TestDocExamples runs the worked examples of docs/schemes/hmac-auth.md.
func TestDocExamples(t *testing.T) {
	e := newEnv(t, map[string]string{"r": `{}`, "body": `{"validate_request_body":true}`})
	e.credential(t, "john", "laptop", "john-key", "john-secret-key-0001")
	e.refresh(t)

	r := request(http.MethodGet, "/orders?status=open", "")
	r.Header.Set("Authorization", `Signature keyId="john-key",algorithm="hmac-sha256",headers="@request-target date",signature="NwwYIh+qlZNa30oK6cLw/P+o440dnjgZ+SYb7+OCcT8="`)
	w := e.serve("r", r)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, "john", decode(t, w).User)

	r = request(http.MethodPost, "/orders?status=open", `{"item":"book"}`)
	r.Host = "127.0.0.1:8000"
	r.Header.Set("Content-Digest", "sha-256=:TdxpPOOXedJyW3AhPvQU6AILe9qFOwsi/gk1TerbKJg=:")
	r.Header.Set("Signature-Input", `sig1=("@method" "@target-uri" "content-digest" "date");created=1725604889;keyid="john-key";alg="hmac-sha256"`)
	r.Header.Set("Signature", "sig1=:sqUJvVVbV69RvG9amfKM5gSC0ITZXNCi7ynzY/KakMo=:")
	w = e.serve("body", r)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, `{"item":"book"}`, decode(t, w).Body)
}
