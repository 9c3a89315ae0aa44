package hmacauth_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRFC9421(t *testing.T) {
	e := newTestEnv(t)
	created := strconv.FormatInt(t0.Unix(), 10)
	std := []string{"@method", "@target-uri", "date"}
	params := `;created=` + created + `;keyid="alice-key";alg="hmac-sha256"`
	const body = `{"name": "world"}`
	tests := []struct {
		name    string
		route   string
		method  string
		body    string
		prepare func(r *http.Request)
		user    string
		missing bool
	}{
		{name: "valid", prepare: func(r *http.Request) { sign9421(r, aliceSecret, std, params) }, user: "alice"},
		{name: "every derived component", prepare: func(r *http.Request) {
			sign9421(r, aliceSecret, []string{"@method", "@target-uri", "@authority", "@path", "@query", "date"}, params)
		}, user: "alice"},
		{name: "no alg", prepare: func(r *http.Request) { sign9421(r, bobSecret, std, `;created=`+created+`;keyid="bob-key"`) }, user: "bob"},
		{name: "params in another order with nonce and tag", prepare: func(r *http.Request) {
			sign9421(r, aliceSecret, std, `;keyid="alice-key";nonce="abc";tag="app";created=`+created)
		}, user: "alice"},
		{name: "no components", prepare: func(r *http.Request) { sign9421(r, aliceSecret, nil, params) }, user: "alice"},
		{name: "expires in the future", prepare: func(r *http.Request) {
			sign9421(r, aliceSecret, std, params+`;expires=`+strconv.FormatInt(t0.Unix()+1, 10))
		}, user: "alice"},
		{name: "first label wins", prepare: func(r *http.Request) {
			sign9421(r, aliceSecret, std, params)
			r.Header.Set("Signature-Input", r.Header.Get("Signature-Input")+`, sig2=("@method");keyid="bob-key"`)
			r.Header.Set("Signature", `sig2=:AAAA:, `+r.Header.Get("Signature"))
		}, user: "alice"},
		{name: "content-digest covered and matching", method: http.MethodPost, body: body, prepare: func(r *http.Request) {
			r.Header.Set("Content-Digest", "sha-256=:"+digestOf(body)+":")
			sign9421(r, aliceSecret, append(std, "content-digest"), params)
		}, user: "alice"},
		{name: "content-digest mismatch", method: http.MethodPost, body: body, prepare: func(r *http.Request) {
			r.Header.Set("Content-Digest", "sha-256=:"+digestOf("other")+":")
			sign9421(r, aliceSecret, append(std, "content-digest"), params)
		}},
		{name: "content-digest checked with validate_request_body", route: "body", method: http.MethodPost, body: body, prepare: func(r *http.Request) {
			r.Header.Set("Content-Digest", "sha-256=:"+digestOf("other")+":")
			sign9421(r, aliceSecret, std, params)
		}},
		{name: "content-digest required with validate_request_body", route: "body", method: http.MethodPost, body: body, prepare: func(r *http.Request) {
			sign9421(r, aliceSecret, std, params)
		}},
		{name: "content-digest not a dictionary", method: http.MethodPost, body: body, prepare: func(r *http.Request) {
			r.Header.Set("Content-Digest", "sha-256="+digestOf(body))
			sign9421(r, aliceSecret, append(std, "content-digest"), params)
		}},
		{name: "wrong signature", prepare: func(r *http.Request) { sign9421(r, bobSecret, std, params) }},
		{name: "unknown keyid", prepare: func(r *http.Request) {
			sign9421(r, aliceSecret, std, `;created=`+created+`;keyid="nobody"`)
		}},
		{name: "no keyid", prepare: func(r *http.Request) { sign9421(r, aliceSecret, std, `;created=`+created) }},
		{name: "keyid not a string", prepare: func(r *http.Request) { sign9421(r, aliceSecret, std, `;created=`+created+`;keyid=alice-key`) }},
		{name: "alg not hmac-sha256", prepare: func(r *http.Request) {
			sign9421(r, aliceSecret, std, `;created=`+created+`;keyid="alice-key";alg="hmac-sha512"`)
		}},
		{name: "hmac-sha256 not allowed", route: "sha1", prepare: func(r *http.Request) { sign9421(r, aliceSecret, std, params) }},
		{name: "expired", prepare: func(r *http.Request) {
			sign9421(r, aliceSecret, std, params+`;expires=`+strconv.FormatInt(t0.Unix(), 10))
		}},
		{name: "created too old", prepare: func(r *http.Request) {
			sign9421(r, aliceSecret, std, `;created=`+strconv.FormatInt(t0.Unix()-301, 10)+`;keyid="alice-key"`)
		}},
		{name: "created in the future", prepare: func(r *http.Request) {
			sign9421(r, aliceSecret, std, `;created=`+strconv.FormatInt(t0.Unix()+301, 10)+`;keyid="alice-key"`)
		}},
		{name: "old created without skew", route: "noskew", prepare: func(r *http.Request) {
			sign9421(r, aliceSecret, std, `;created=1;keyid="alice-key"`)
		}, user: "alice"},
		{name: "no created", prepare: func(r *http.Request) { sign9421(r, aliceSecret, std, `;keyid="alice-key"`) }},
		{name: "no created without skew", route: "noskew", prepare: func(r *http.Request) { sign9421(r, aliceSecret, std, `;keyid="alice-key"`) }, user: "alice"},
		{name: "covered header absent", prepare: func(r *http.Request) { sign9421(r, aliceSecret, append(std, "x-absent"), params) }},
		{name: "unknown derived component", prepare: func(r *http.Request) { sign9421(r, aliceSecret, append(std, "@status"), params) }},
		{name: "upper-case header name", prepare: func(r *http.Request) { sign9421(r, aliceSecret, append(std, "Date"), params) }},
		{name: "signed_headers covered", route: "signed", prepare: func(r *http.Request) {
			r.Header.Set("X-Custom-A", "a")
			sign9421(r, aliceSecret, append(std, "x-custom-a"), params)
		}, user: "alice"},
		{name: "signed_headers not covered", route: "signed", prepare: func(r *http.Request) {
			r.Header.Set("X-Custom-A", "a")
			sign9421(r, aliceSecret, std, params)
		}},
		{name: "request target needs the method", route: "signed", prepare: func(r *http.Request) {
			r.Header.Set("X-Custom-A", "a")
			sign9421(r, aliceSecret, []string{"@target-uri", "x-custom-a"}, params)
		}},
		{name: "tampered method", prepare: func(r *http.Request) {
			sign9421(r, aliceSecret, std, params)
			r.Method = http.MethodPut
		}},
		{name: "tampered query", prepare: func(r *http.Request) {
			sign9421(r, aliceSecret, std, params)
			r.RequestURI = "/orders?admin=1"
		}},
		{name: "tampered parameters", prepare: func(r *http.Request) {
			sign9421(r, aliceSecret, std, params)
			r.Header.Set("Signature-Input", r.Header.Get("Signature-Input")+`;nonce="x"`)
		}},
		{name: "label mismatch", prepare: func(r *http.Request) {
			sign9421(r, aliceSecret, std, params)
			r.Header.Set("Signature", strings.Replace(r.Header.Get("Signature"), "sig1", "sig2", 1))
		}},
		{name: "no Signature", prepare: func(r *http.Request) {
			sign9421(r, aliceSecret, std, params)
			r.Header.Del("Signature")
		}},
		{name: "signature not a byte sequence", prepare: func(r *http.Request) {
			sign9421(r, aliceSecret, std, params)
			r.Header.Set("Signature", `sig1="abc"`)
		}},
		{name: "malformed Signature-Input", prepare: func(r *http.Request) {
			sign9421(r, aliceSecret, std, params)
			r.Header.Set("Signature-Input", `sig1="@method"`)
		}},
		{name: "component parameters", prepare: func(r *http.Request) {
			sign9421(r, aliceSecret, std, params)
			r.Header.Set("Signature-Input", `sig1=("@method";req);keyid="alice-key"`)
		}},
		{name: "duplicate component", prepare: func(r *http.Request) { sign9421(r, aliceSecret, []string{"date", "date"}, params) }},
		{name: "disabled credential", prepare: func(r *http.Request) { sign9421(r, aliceSecret, std, `;created=`+created+`;keyid="off-key"`) }},
		{name: "expired credential", prepare: func(r *http.Request) { sign9421(r, aliceSecret, std, `;created=`+created+`;keyid="old-key"`) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			route, method := tt.route, tt.method
			if route == "" {
				route = "r"
			}
			if method == "" {
				method = http.MethodGet
			}
			r := request(method, "/orders?id=7&x=y", tt.body)
			tt.prepare(r)
			w := e.serve(route, r)
			if tt.user != "" {
				require.Equal(t, http.StatusOK, w.Code, w.Body.String())
				s := decode(t, w)
				require.Equal(t, tt.user, s.User)
				require.Equal(t, tt.body, s.Body)
				return
			}
			require.Equal(t, http.StatusUnauthorized, w.Code, w.Body.String())
			require.JSONEq(t, `{"message":"client request can't be validated"}`, w.Body.String())
			require.Equal(t, challenge, w.Header().Get("WWW-Authenticate"))
		})
	}
}

func TestRFC9421BodyCap(t *testing.T) {
	e := newTestEnv(t)
	big := strings.Repeat("y", 17)
	r := request(http.MethodPost, "/orders", big)
	r.Header.Set("Content-Digest", "sha-256=:"+digestOf(big)+":")
	sign9421(r, aliceSecret, []string{"@method", "content-digest"}, `;created=`+strconv.FormatInt(t0.Unix(), 10)+`;keyid="alice-key"`)
	w := e.serve("bodycap", r)
	require.Equal(t, http.StatusRequestEntityTooLarge, w.Code, w.Body.String())
}

func TestRFC9421Replay(t *testing.T) {
	e := newTestEnv(t)
	created := strconv.FormatInt(t0.Unix(), 10)
	// The replay cache is the process's: values unique to this run keep
	// repeated runs (-count) independent.
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	mk := func(nonce string, path string) *http.Request {
		r := request(http.MethodGet, path, "")
		p := `;created=` + created + `;keyid="alice-key"`
		if nonce != "" {
			p += `;nonce="` + nonce + `"`
		}
		sign9421(r, aliceSecret, []string{"@method", "@path"}, p)
		return r
	}
	path, nonce := "/rfc-replay-"+run, "nonce-9421-"+run
	require.Equal(t, http.StatusOK, e.serve("noreplay", mk("", path)).Code)
	require.Equal(t, http.StatusOK, e.serve("noreplay", mk("", path)).Code)
	require.Equal(t, http.StatusOK, e.serve("replay", mk("", path)).Code)
	require.Equal(t, http.StatusUnauthorized, e.serve("replay", mk("", path)).Code)
	// A nonce is refused the second time even on a different request.
	require.Equal(t, http.StatusOK, e.serve("replay", mk(nonce, "/a")).Code)
	require.Equal(t, http.StatusUnauthorized, e.serve("replay", mk(nonce, "/b")).Code)
}
