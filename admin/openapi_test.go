package admin_test

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/credential/apikey"
	"github.com/gatehousehq/gatehouse/credential/basicauth"
	"github.com/gatehousehq/gatehouse/credential/hmacauth"
	"github.com/gatehousehq/gatehouse/credential/jwtauth"
	"github.com/gatehousehq/gatehouse/credential/keyauth"
	"github.com/gatehousehq/gatehouse/keyring"
	"github.com/gatehousehq/gatehouse/plugin"
	ratememory "github.com/gatehousehq/gatehouse/ratelimit/memory"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// openAPIDoc is admin/openapi.json, parsed, with its paths ready to match
// request paths.
type openAPIDoc struct {
	raw   []byte
	root  map[string]any
	check *schemaChecker
	paths []docPath
}

// docPath is one path of the document.
type docPath struct {
	template string
	re       *regexp.Regexp
	params   []string // the template's parameter names, in order
	item     map[string]any
}

var operationMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

var templateParam = regexp.MustCompile(`\{([^}]+)\}`)

// loadDoc reads and parses openapi.json once for the whole test binary.
var loadDoc = sync.OnceValues(func() (*openAPIDoc, error) {
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		return nil, err
	}
	v, err := parseJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("openapi.json is not JSON: %w", err)
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("openapi.json is not an object")
	}
	d := &openAPIDoc{raw: raw, root: root, check: &schemaChecker{doc: root}}
	paths, _ := root["paths"].(map[string]any)
	for tmpl, item := range paths {
		p := docPath{template: tmpl, item: item.(map[string]any)}
		var re strings.Builder
		re.WriteString("^")
		last := 0
		for _, m := range templateParam.FindAllStringSubmatchIndex(tmpl, -1) {
			re.WriteString(regexp.QuoteMeta(tmpl[last:m[0]]))
			re.WriteString("[^/]+")
			p.params = append(p.params, tmpl[m[2]:m[3]])
			last = m[1]
		}
		re.WriteString(regexp.QuoteMeta(tmpl[last:]) + "$")
		p.re = regexp.MustCompile(re.String())
		d.paths = append(d.paths, p)
	}
	// The most literal template first: /api/openapi.json before any {param}.
	sort.Slice(d.paths, func(i, j int) bool {
		if len(d.paths[i].params) != len(d.paths[j].params) {
			return len(d.paths[i].params) < len(d.paths[j].params)
		}
		return d.paths[i].template < d.paths[j].template
	})
	return d, nil
})

func mustDoc(t testing.TB) *openAPIDoc {
	t.Helper()
	d, err := loadDoc()
	require.NoError(t, err)
	return d
}

// find returns the document's path that urlPath is an instance of, or nil.
func (d *openAPIDoc) find(urlPath string) *docPath {
	for i := range d.paths {
		if d.paths[i].re.MatchString(urlPath) {
			return &d.paths[i]
		}
	}
	return nil
}

// component resolves v when it is a {"$ref": ...} object.
func (d *openAPIDoc) component(v any) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s is not an object", short(v))
	}
	if ref, ok := m["$ref"].(string); ok {
		target, err := d.check.resolve(ref)
		if err != nil {
			return nil, err
		}
		return d.component(target)
	}
	return m, nil
}

// checkAnswer checks a response of the handler against the document: its
// status must be one the operation documents, its required headers present,
// and its body valid against the schema documented for that status. It
// returns the operationId ("" for a path or method the document has not)
// and the error.
func (d *openAPIDoc) checkAnswer(method, urlPath string, code int, hdr http.Header, body []byte) (string, error) {
	p := d.find(urlPath)
	m := strings.ToLower(method)
	headOnly := false
	var op map[string]any
	if p != nil {
		if m == "head" && p.item["head"] == nil {
			m, headOnly = "get", true
		}
		op, _ = p.item[m].(map[string]any)
	}
	if op == nil {
		// No such path (the catch-all 404) or method (405): the error body.
		want := map[int]string{http.StatusUnauthorized: "Unauthorized", http.StatusNotFound: "NotFound"}
		if p != nil {
			want = map[int]string{http.StatusUnauthorized: "Unauthorized", http.StatusMethodNotAllowed: "405"}
		}
		name, ok := want[code]
		if !ok {
			return "", fmt.Errorf("%s %s is not in the document, yet it answered %d", method, urlPath, code)
		}
		if code == http.StatusMethodNotAllowed && hdr.Get("Allow") == "" {
			return "", fmt.Errorf("%s %s: 405 without Allow", method, urlPath)
		}
		schema := map[string]any{"$ref": "#/components/schemas/Error"}
		if name != "405" {
			resp, err := d.component(map[string]any{"$ref": "#/components/responses/" + name})
			if err != nil {
				return "", err
			}
			schema = resp["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
		}
		v, err := parseJSON(body)
		if err != nil {
			return "", fmt.Errorf("%s %s answered %d with a body that is not JSON: %q", method, urlPath, code, body)
		}
		return "", d.check.validateResponse(v, schema)
	}
	opID, _ := op["operationId"].(string)
	responses, _ := op["responses"].(map[string]any)
	raw, ok := responses[strconv.Itoa(code)]
	if !ok {
		return opID, fmt.Errorf("%s (%s %s) answered %d, which it does not document: %s", opID, method, urlPath, code, body)
	}
	resp, err := d.component(raw)
	if err != nil {
		return opID, err
	}
	headers, _ := resp["headers"].(map[string]any)
	for name, h := range headers {
		hd, err := d.component(h)
		if err != nil {
			return opID, err
		}
		if req, _ := hd["required"].(bool); req && hdr.Get(name) == "" {
			return opID, fmt.Errorf("%s answered %d without the header %s", opID, code, name)
		}
	}
	content, _ := resp["content"].(map[string]any)
	if content == nil {
		if len(body) != 0 {
			return opID, fmt.Errorf("%s answered %d with a body it does not document: %q", opID, code, body)
		}
		return opID, nil
	}
	mt, _, _ := mime.ParseMediaType(hdr.Get("Content-Type"))
	media, ok := content[mt].(map[string]any)
	if !ok {
		return opID, fmt.Errorf("%s answered %d with Content-Type %q, not a documented one", opID, code, hdr.Get("Content-Type"))
	}
	if headOnly || !strings.HasSuffix(mt, "json") {
		return opID, nil // a body not in JSON (the YAML export) is checked by its own tests
	}
	v, err := parseJSON(body)
	if err != nil {
		return opID, fmt.Errorf("%s answered %d with a body that is not JSON: %w", opID, code, err)
	}
	if err := d.check.validateResponse(v, media["schema"].(map[string]any)); err != nil {
		return opID, fmt.Errorf("%s answered %d with a body the document does not allow: %w\nbody: %s", opID, code, err, body)
	}
	return opID, nil
}

// checkRequest checks the body of a request the handler accepted (2xx)
// against the documented request body for its Content-Type (none:
// application/json): the document must not refuse what the server takes.
func (d *openAPIDoc) checkRequest(method, urlPath, contentType string, body []byte) error {
	p := d.find(urlPath)
	if p == nil {
		return fmt.Errorf("%s %s is not in the document", method, urlPath)
	}
	op, _ := p.item[strings.ToLower(method)].(map[string]any)
	if op == nil {
		return nil // HEAD, answered by GET
	}
	rb, ok := op["requestBody"]
	if !ok {
		return nil
	}
	rbody, err := d.component(rb)
	if err != nil {
		return err
	}
	mt := "application/json"
	if contentType != "" {
		mt, _, _ = mime.ParseMediaType(contentType)
	}
	media, ok := rbody["content"].(map[string]any)[mt].(map[string]any)
	if !ok {
		return fmt.Errorf("%s %s accepted Content-Type %q, which the document does not list", method, urlPath, contentType)
	}
	v, err := parseJSON(body)
	if err != nil {
		return fmt.Errorf("%s %s accepted a body that is not JSON: %w", method, urlPath, err)
	}
	if err := d.check.validateRequest(v, media["schema"].(map[string]any)); err != nil {
		return fmt.Errorf("%s %s accepted a body its documented schema refuses: %w\nbody: %s", method, urlPath, err, body)
	}
	return nil
}

// reachable calls fn with every schema reachable from s, $refs followed
// (each component once); at is the schema's location.
func (d *openAPIDoc) reachable(s map[string]any, fn func(s map[string]any, at string)) {
	seen := map[string]bool{}
	var visit func(s map[string]any, at string)
	visit = func(s map[string]any, at string) {
		walkSchema(s, at, func(sub map[string]any, at string) {
			fn(sub, at)
			if ref, ok := sub["$ref"].(string); ok && !seen[ref] {
				seen[ref] = true
				target, err := d.check.resolve(ref)
				if err == nil {
					visit(target.(map[string]any), ref)
				}
			}
		})
	}
	visit(s, "schema")
}

// operations returns every (path, method, operation) of the document.
func (d *openAPIDoc) operations() []docOp {
	var out []docOp
	for _, p := range d.paths {
		for _, m := range operationMethods {
			if op, ok := p.item[m].(map[string]any); ok {
				out = append(out, docOp{path: p, method: strings.ToUpper(m), op: op})
			}
		}
	}
	return out
}

type docOp struct {
	path   docPath
	method string
	op     map[string]any
}

// instance is a request path for the template, every parameter "x".
func (p docPath) instance() string {
	return templateParam.ReplaceAllString(p.template, "x")
}

func TestOpenAPIServed(t *testing.T) {
	d := mustDoc(t)
	e := newEnv(t)
	r := e.must(http.StatusOK, http.MethodGet, "/api/openapi.json", nil)
	require.Equal(t, "application/json", r.Header.Get("Content-Type"))
	require.Equal(t, string(d.raw), r.Body, "the handler serves admin/openapi.json as it is")
	r = e.must(http.StatusOK, http.MethodHead, "/api/openapi.json", nil)
	require.Equal(t, strconv.Itoa(len(d.raw)), r.Header.Get("Content-Length"))
	requireError(t, e.do(http.MethodGet, "/api/openapi.json", nil, "X-API-KEY", ""), http.StatusUnauthorized, "unauthorized")
	r = e.do(http.MethodPost, "/api/openapi.json", `{}`)
	requireError(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
	require.Equal(t, "GET, HEAD", r.Header.Get("Allow"))
}

// walkRefs calls fn with every "$ref" value under v.
func walkRefs(v any, at string, fn func(ref, at string)) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && k == "$ref" {
				fn(s, at)
				continue
			}
			walkRefs(val, at+"/"+k, fn)
		}
	case []any:
		for i, val := range x {
			walkRefs(val, at+"/"+strconv.Itoa(i), fn)
		}
	}
}

// walkSchema calls fn with s and every schema inside it.
func walkSchema(s map[string]any, at string, fn func(s map[string]any, at string)) {
	fn(s, at)
	for _, k := range []string{"items", "additionalProperties"} {
		if sub, ok := s[k].(map[string]any); ok {
			walkSchema(sub, at+"/"+k, fn)
		}
	}
	if props, ok := s["properties"].(map[string]any); ok {
		for name, sub := range props {
			walkSchema(sub.(map[string]any), at+"/properties/"+name, fn)
		}
	}
	if alts, ok := s["oneOf"].([]any); ok {
		for i, sub := range alts {
			walkSchema(sub.(map[string]any), at+"/oneOf/"+strconv.Itoa(i), fn)
		}
	}
}

// docSchemas returns every schema of the document: components, parameters,
// headers, request and response bodies.
func docSchemas(d *openAPIDoc) map[string]map[string]any {
	out := map[string]map[string]any{}
	var visit func(v any, at string)
	visit = func(v any, at string) {
		switch x := v.(type) {
		case map[string]any:
			for k, val := range x {
				if k == "schema" {
					if s, ok := val.(map[string]any); ok {
						out[at+"/schema"] = s
						continue
					}
				}
				visit(val, at+"/"+k)
			}
		case []any:
			for i, val := range x {
				visit(val, at+"/"+strconv.Itoa(i))
			}
		}
	}
	visit(d.root["paths"], "#/paths")
	comps := d.root["components"].(map[string]any)
	for _, k := range []string{"parameters", "headers", "responses", "requestBodies"} {
		visit(comps[k], "#/components/"+k)
	}
	for name, s := range comps["schemas"].(map[string]any) {
		out["#/components/schemas/"+name] = s.(map[string]any)
	}
	return out
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	d := mustDoc(t)
	require.Regexp(t, `^3\.1\.\d+$`, d.root["openapi"])
	info, _ := d.root["info"].(map[string]any)
	require.NotEmpty(t, info["title"])
	require.NotEmpty(t, info["version"])

	t.Run("every $ref resolves", func(t *testing.T) {
		n := 0
		walkRefs(d.root, "#", func(ref, at string) {
			n++
			_, err := d.check.resolve(ref)
			require.NoError(t, err, "at %s", at)
		})
		require.Greater(t, n, 100)
	})

	t.Run("schemas use only what the checker checks", func(t *testing.T) {
		for at, s := range docSchemas(d) {
			walkSchema(s, at, func(s map[string]any, at string) {
				for k := range s {
					require.True(t, knownKeywords[k], "%s uses the keyword %q, which the tests' schema checker does not know", at, k)
				}
				if p, ok := s["pattern"].(string); ok {
					_, err := regexp.Compile(p)
					require.NoError(t, err, at)
				}
				if req, ok := s["required"].([]any); ok {
					props, _ := s["properties"].(map[string]any)
					for _, r := range req {
						require.Contains(t, props, r, "%s requires %q, which it does not describe", at, r)
					}
				}
			})
		}
	})

	t.Run("operations", func(t *testing.T) {
		ids := map[string]string{}
		for _, o := range d.operations() {
			where := o.method + " " + o.path.template
			id, _ := o.op["operationId"].(string)
			require.NotEmpty(t, id, where)
			require.NotContains(t, ids, id, "%s and %s share the operationId %q", ids[id], where, id)
			ids[id] = where
			require.NotEmpty(t, o.op["summary"], where)
			responses, _ := o.op["responses"].(map[string]any)
			require.NotEmpty(t, responses, where)
			for code, r := range responses {
				require.Regexp(t, `^[1-5]\d\d$`, code, where)
				resp, err := d.component(r)
				require.NoError(t, err, where)
				require.NotEmpty(t, resp["description"], "%s %s", where, code)
			}
			if id != "getOpenAPI" {
				for _, code := range []string{"401", "500", "503"} {
					require.Contains(t, responses, code, "%s: every endpoint that reads the store documents %s", where, code)
				}
			}
			// Path parameters: exactly the template's, each required.
			var declared []string
			for _, src := range []any{o.path.item["parameters"], o.op["parameters"]} {
				list, _ := src.([]any)
				for _, p := range list {
					pm, err := d.component(p)
					require.NoError(t, err, where)
					require.NotEmpty(t, pm["schema"], "%s: parameter %v has no schema", where, pm["name"])
					if pm["in"] == "path" {
						require.Equal(t, true, pm["required"], "%s: path parameter %v", where, pm["name"])
						declared = append(declared, pm["name"].(string))
					}
				}
			}
			require.ElementsMatch(t, o.path.params, declared, where)
		}
		require.Len(t, ids, len(d.operations()))
	})

	t.Run("secrets are write-only and in no response", func(t *testing.T) {
		secrets := []string{"key", "password", "secret", "secret_key", "clientSecret"}
		for _, o := range d.operations() {
			where := o.method + " " + o.path.template
			for code, r := range o.op["responses"].(map[string]any) {
				resp, err := d.component(r)
				require.NoError(t, err)
				content, _ := resp["content"].(map[string]any)
				for _, media := range content {
					d.reachable(media.(map[string]any)["schema"].(map[string]any), func(s map[string]any, at string) {
						props, _ := s["properties"].(map[string]any)
						for name, p := range props {
							wo, _ := p.(map[string]any)["writeOnly"].(bool)
							require.False(t, wo, "%s %s: the response schema %s has the write-only %q", where, code, at, name)
						}
					})
				}
			}
			rb, ok := o.op["requestBody"]
			if !ok {
				continue
			}
			body, err := d.component(rb)
			require.NoError(t, err)
			for _, media := range body["content"].(map[string]any) {
				d.reachable(media.(map[string]any)["schema"].(map[string]any), func(s map[string]any, at string) {
					props, _ := s["properties"].(map[string]any)
					for name, p := range props {
						pm := p.(map[string]any)
						// jwt-auth's key is the claim that names the credential, not a secret.
						isSecret := slices.Contains(secrets, name) && !(name == "key" && strings.HasSuffix(at, "/JwtAuthInput"))
						if isSecret {
							require.Equal(t, true, pm["writeOnly"], "%s: %s.%s is a secret: it must be writeOnly", where, at, name)
						}
					}
				})
			}
		}
	})

	t.Run("admin-key security schemes", func(t *testing.T) {
		schemes := d.root["components"].(map[string]any)["securitySchemes"].(map[string]any)
		sec, _ := d.root["security"].([]any)
		var names []string
		for _, req := range sec {
			for name := range req.(map[string]any) {
				require.Contains(t, schemes, name)
				names = append(names, name)
			}
		}
		require.Len(t, names, 2, "either scheme alone is enough")
		var header, bearer bool
		for _, name := range names {
			s := schemes[name].(map[string]any)
			header = header || s["type"] == "apiKey" && s["in"] == "header" && s["name"] == "X-API-KEY"
			bearer = bearer || s["type"] == "http" && s["scheme"] == "bearer"
		}
		require.True(t, header, "X-API-KEY header")
		require.True(t, bearer, "Authorization: Bearer")
	})
}

// TestOpenAPICoversTheRoutes checks the document against the patterns the
// handler registers on its ServeMux (recorded as they are registered).
func TestOpenAPICoversTheRoutes(t *testing.T) {
	d := mustDoc(t)
	h := admin.New(memory.New(), plugin.NewRegistry(keyauth.Definition{}), admin.WithKey(testKey))
	patterns := admin.Patterns(h)
	require.NotEmpty(t, patterns)
	byTemplate := map[string]*docPath{}
	for i := range d.paths {
		byTemplate[d.paths[i].template] = &d.paths[i]
	}

	for _, pat := range patterns {
		method, path, hasMethod := strings.Cut(pat, " ")
		if !hasMethod {
			path = method
			if path == "/" {
				continue // the catch-all 404
			}
			require.Contains(t, byTemplate, path, "the handler answers 405 on %s, which the document does not describe", path)
			continue
		}
		p, ok := byTemplate[path]
		require.True(t, ok, "the handler serves %q; the document has no path %s", pat, path)
		_, documented := p.item[strings.ToLower(method)]
		require.True(t, documented, "the handler serves %q; the document's %s has no %s", pat, path, method)
	}

	for _, o := range d.operations() {
		pat := o.method + " " + o.path.template
		require.Contains(t, patterns, pat, "the document describes %s, which the handler does not register", pat)
		req := httptest.NewRequest(o.method, o.path.instance(), nil)
		require.Equal(t, pat, admin.MatchedPattern(h, req), "%s %s reaches another handler", o.method, o.path.instance())
	}

	// Every other method on a documented path is 405, with an Allow header
	// that lists exactly the documented methods (HEAD wherever GET).
	for _, p := range d.paths {
		var allow []string
		for _, m := range operationMethods {
			if p.item[m] != nil {
				allow = append(allow, strings.ToUpper(m))
				if m == "get" {
					allow = append(allow, http.MethodHead)
				}
			}
		}
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions} {
			if slices.Contains(allow, m) {
				continue
			}
			req := httptest.NewRequest(m, p.instance(), nil)
			req.Header.Set("X-API-KEY", testKey)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, http.StatusMethodNotAllowed, rec.Code, "%s %s: %s", m, p.template, rec.Body)
			got := strings.Split(rec.Header().Get("Allow"), ", ")
			require.ElementsMatch(t, allow, got, "Allow of %s", p.template)
		}
	}
}

// fullEnv is an admin handler with every built-in credential scheme, a key
// ring and a quota counter, whose answers are checked against the document
// (as every env's are) and recorded by operation.
func fullEnv(t *testing.T) *env {
	t.Helper()
	st := memory.New()
	ring, _ := keyring.Generate()
	reg := plugin.NewRegistry(keyauth.Definition{}, basicauth.Definition{Cost: 4}, hmacauth.Definition{Ring: ring},
		&jwtauth.Definition{Ring: ring}, apikey.Definition{Ring: ring})
	e := newEnv(t)
	e.store = st
	e.h = admin.New(st, reg, admin.WithKey(testKey), admin.WithLogger(slogTo(e.logs)), admin.WithQuotaCounter(ratememory.New()), admin.WithMaxBody(4096))
	return e
}

// TestOpenAPIResponses makes the requests a client makes, successes and the
// main errors, and requires every answer to be one the document describes
// (env.do checks each one) and every operation to have been answered with a
// success at least once.
func TestOpenAPIResponses(t *testing.T) {
	d := mustDoc(t)
	e := fullEnv(t)
	jpatch := []string{"Content-Type", "application/json-patch+json"}
	future := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)

	// Consumers.
	e.must(201, "POST", "/api/consumers", `{"username":"alice","desc":"d","labels":{"team":"a"},"plugins":{"key-auth":null}}`)
	e.must(200, "GET", "/api/consumers/alice", nil)
	e.must(200, "GET", "/api/consumers?label=team:a&limit=1", nil)
	e.must(201, "PUT", "/api/consumers/bob", `{"desc":"b"}`)
	e.must(200, "PUT", "/api/consumers/bob", `{"username":"bob","desc":"b2"}`)
	e.must(200, "PATCH", "/api/consumers/bob", `{"labels":{"x":"y"}}`)
	e.must(200, "PATCH", "/api/consumers/bob", `[{"op":"add","path":"/desc","value":"p"}]`, jpatch...)
	e.must(409, "POST", "/api/consumers", `{"username":"alice"}`)
	e.must(400, "POST", "/api/consumers", `{"username":"bad name!","group_id":"??"}`)
	e.must(400, "POST", "/api/consumers", `{"username":"x","nickname":"y"}`)
	e.must(400, "GET", "/api/consumers?limit=0", nil)
	e.must(400, "GET", "/api/consumers?cursor=@@", nil)
	e.must(404, "GET", "/api/consumers/ghost", nil)
	e.must(404, "PATCH", "/api/consumers/ghost", `{}`)
	e.must(413, "POST", "/api/consumers", `{"username":"big","desc":"`+strings.Repeat("x", 5000)+`"}`)
	e.must(415, "POST", "/api/consumers", `{"username":"x"}`, "Content-Type", "text/plain")
	e.must(200, "HEAD", "/api/consumers", nil)

	// Credentials, one of each scheme, secrets generated and chosen.
	base := "/api/consumers/alice/credentials"
	r := e.must(201, "POST", base, `{"id":"k1","name":"key","plugins":{"key-auth":{}}}`)
	require.Contains(t, r.Body, `"key":"ghk_`, "a generated key is shown once")
	r = e.must(200, "GET", base+"/k1", nil)
	require.NotContains(t, r.Body, `"key":`)
	e.must(201, "POST", base, `{"id":"k2","name":"key2","plugins":{"key-auth":{"key":"chosen-key-123"}},"authorized_entities":["group_A","route_r"],"expires_at":"`+future+`"}`)
	e.must(201, "POST", base, `{"id":"b1","name":"basic","plugins":{"basic-auth":{"username":"alice","password":"pw"}}}`)
	e.must(201, "POST", base, `{"id":"h1","name":"hmac","plugins":{"hmac-auth":{"key_id":"alice-hmac"}}}`)
	e.must(201, "POST", base, `{"id":"h2","name":"hmac2","plugins":{"hmac-auth":{"key_id":"alice-hmac2","secret_key":"0123456789abcdef0123"}}}`)
	e.must(201, "POST", base, `{"id":"j1","name":"jwt","plugins":{"jwt-auth":{"key":"alice-jwt"}}}`)
	e.must(201, "POST", base, `{"id":"j2","name":"jwt2","plugins":{"jwt-auth":{"key":"alice-jwt2","algorithm":"HS512","secret":"`+strings.Repeat("s", 64)+`"}}}`)
	e.must(201, "POST", base, `{"id":"a1","name":"apikey","plugins":{"apikey-auth":{"clientId":"alice-ak","clientName":"generic"}}}`)
	r = e.must(200, "GET", base+"?limit=1000", nil)
	require.Equal(t, float64(8), r.JSON(t)["total"])
	for _, bad := range []string{`"key":"ghk_`, `"key":"chosen`, `"secret_key":`, `"secret":`, `"password":`, `"clientSecret":`} {
		require.NotContains(t, r.Body, bad, "GET never shows a secret")
	}
	e.must(200, "PUT", base+"/k1", `{"name":"key","plugins":{"key-auth":{"key_preview":"ignored"}}}`)
	e.must(201, "PUT", base+"/k3", `{"name":"key3","plugins":{"key-auth":{}}}`)
	e.must(200, "PUT", base+"/k3", `{"name":"key3","plugins":{"hmac-auth":{"key_id":"switched"}}}`) // generates a secret, shown once
	e.must(200, "PATCH", base+"/k1", `{"enabled":false}`)
	e.must(200, "PATCH", base+"/b1", `[{"op":"replace","path":"/plugins/basic-auth/username","value":"alice2"}]`, jpatch...)
	e.must(409, "POST", base, `{"id":"k4","name":"dup","plugins":{"key-auth":{"key":"chosen-key-123"}}}`)
	e.must(409, "POST", base, `{"id":"k5","name":"key","plugins":{"key-auth":{}}}`)
	e.must(409, "PUT", base+"/k2", `{"name":"key","plugins":{"key-auth":{}}}`)
	e.must(409, "PATCH", base+"/k2", `{"name":"key"}`)
	e.must(400, "POST", base, `{"name":"","plugins":{}}`)
	e.must(400, "POST", base, `{"name":"two","plugins":{"key-auth":{},"basic-auth":{}}}`)
	e.must(400, "POST", base, `{"name":"n","plugins":{"key-auth":{"key":"x"}}}`)
	e.must(404, "POST", "/api/consumers/ghost/credentials", `{"name":"n","plugins":{"key-auth":{}}}`)
	e.must(404, "PUT", "/api/consumers/ghost/credentials/c", `{"name":"n","plugins":{"key-auth":{}}}`)
	e.must(404, "GET", "/api/consumers/ghost/credentials", nil)
	e.must(404, "GET", base+"/nope", nil)
	e.must(404, "PATCH", base+"/nope", `{}`)
	e.must(415, "PATCH", base+"/k1", `{}`, "Content-Type", "application/xml")
	e.must(413, "PUT", base+"/k1", `{"name":"`+strings.Repeat("x", 5000)+`"}`)
	e.must(204, "DELETE", base+"/k3", nil)
	e.must(404, "DELETE", base+"/k3", nil)

	// Service groups and routes.
	e.must(201, "POST", "/api/groups", `{"id":"A","name":"group A","description":"d","tags":["t1","t2"],"metadata":{"k":"v"}}`)
	e.must(201, "POST", "/api/groups", `{"name":"generated"}`)
	e.must(200, "GET", "/api/groups?tag=t1", nil)
	e.must(400, "GET", "/api/groups?tag=t1&tag=t2", nil)
	e.must(200, "GET", "/api/groups/A", nil)
	e.must(201, "PUT", "/api/groups/B", `{"name":"group B"}`)
	e.must(200, "PUT", "/api/groups/B", `{"id":"B","name":"group B2"}`)
	e.must(200, "PATCH", "/api/groups/B", `{"tags":["x"]}`)
	e.must(409, "POST", "/api/groups", `{"id":"A","name":"again"}`)
	e.must(400, "PUT", "/api/groups/B", `{"id":"C","name":""}`)
	e.must(404, "GET", "/api/groups/Z", nil)
	e.must(201, "POST", "/api/routes", `{"id":"r","name":"orders","groups":["A"],"api":"shop","frontend":{"paths":["/orders"],"methods":["GET"],"strip_path":true},
		"backend":{"target":"http://127.0.0.1:9000"},"plugins":{"key-auth":{}},"auth_mode":"any"}`)
	e.must(201, "POST", "/api/routes", `{}`)
	e.must(200, "GET", "/api/routes", nil)
	e.must(200, "GET", "/api/routes/r", nil)
	e.must(201, "PUT", "/api/routes/r2", `{"frontend":{"paths":["/two"]}}`)
	e.must(200, "PUT", "/api/routes/r2", `{"name":"two"}`)
	e.must(200, "PATCH", "/api/routes/r", `{"backend":null,"auth_mode":"all"}`)
	e.must(400, "POST", "/api/routes", `{"frontend":{"paths":["nope"],"methods":["get"]},"auth_mode":"some","plugins":{"nope":{}}}`)
	e.must(409, "POST", "/api/routes", `{"id":"r"}`)
	e.must(404, "PATCH", "/api/routes/nope", `{}`)
	e.must(204, "DELETE", "/api/routes/r2", nil)
	e.must(404, "DELETE", "/api/routes/r2", nil)

	// API keys.
	r = e.must(201, "POST", "/api/apikeys", `{"clientName":"generated","authorizedEntities":["group_A"],"throttlingQuota":100,"dailyQuota":1000}`)
	require.NotEmpty(t, r.JSON(t)["clientSecret"], "a generated secret is shown once")
	e.must(201, "POST", "/api/apikeys", `{"clientId":"k-bob","clientSecret":"chosen-secret","clientName":"bob's","consumer":"bob","validUntil":4102444800000,
		"rotation":{"enabled":true,"rotationEvery":24,"gracePeriod":1},"tags":["t"],"metadata":{"m":"v"},"readOnly":true,"allowClientIdOnly":true,"description":"d"}`)
	r = e.must(200, "GET", "/api/apikeys/k-bob", nil)
	require.NotContains(t, r.Body, "clientSecret")
	e.must(200, "GET", "/api/apikeys?limit=2", nil)
	e.must(200, "PUT", "/api/apikeys/k-bob", `{"clientName":"bob's","clientSecret":"rotated-secret"}`)
	e.must(201, "PUT", "/api/apikeys/k-new", `{"clientName":"new"}`)
	e.must(200, "PATCH", "/api/apikeys/k-new", `{"description":"patched"}`)
	e.must(200, "GET", "/api/apikeys/k-new/quotas", nil)
	e.must(200, "DELETE", "/api/apikeys/k-new/quotas", nil)
	e.must(404, "GET", "/api/apikeys/ghost/quotas", nil)
	e.must(201, "POST", "/api/groups/A/apikeys", `{"clientId":"ga","clientName":"in A"}`)
	e.must(200, "GET", "/api/groups/A/apikeys", nil)
	e.must(404, "GET", "/api/groups/Z/apikeys", nil)
	e.must(404, "POST", "/api/groups/Z/apikeys", `{"clientName":"x"}`)
	e.must(409, "POST", "/api/apikeys", `{"clientId":"k-bob","clientName":"again"}`)
	e.must(409, "POST", "/api/apikeys", `{"clientId":"bob","clientName":"the consumer bob exists"}`)
	e.must(400, "POST", "/api/apikeys", `{"clientId":"bad id!","clientName":"","throttlingQuota":-1,"consumer":"ghost"}`)
	e.must(400, "PUT", "/api/apikeys/k-bob", `{"clientName":"x","consumer":"alice"}`)
	e.must(404, "GET", "/api/apikeys/ghost", nil)
	e.must(404, "PATCH", "/api/apikeys/ghost", `{}`)
	e.must(204, "DELETE", "/api/apikeys/k-new", nil)
	e.must(404, "DELETE", "/api/apikeys/k-new", nil)

	// Gateways, consumer groups and their keys.
	e.must(201, "POST", "/api/v1/gateways", `{"id":"gw","name":"main","plugins":{"key-auth":{}}}`)
	e.must(201, "POST", "/api/v1/gateways", `{"name":"generated"}`)
	e.must(200, "GET", "/api/v1/gateways", nil)
	e.must(200, "GET", "/api/v1/gateways/gw", nil)
	e.must(201, "PUT", "/api/v1/gateways/gw2", `{"name":"two"}`)
	e.must(200, "PUT", "/api/v1/gateways/gw2", `{"name":"deux"}`)
	e.must(200, "PATCH", "/api/v1/gateways/gw2", `{"name":"zwei"}`)
	e.must(409, "POST", "/api/v1/gateways", `{"id":"gw","name":"again"}`)
	e.must(400, "POST", "/api/v1/gateways", `{"id":"bad id!"}`)
	cg := "/api/v1/gateways/gw/consumer-groups"
	e.must(201, "POST", cg, `{"id":"premium","name":"Premium Users","required_plugins":[{"name":"key-auth","settings":{}}]}`)
	e.must(201, "POST", cg, `{"name":"Free"}`)
	e.must(200, "GET", cg, nil)
	e.must(200, "GET", cg+"/premium", nil)
	e.must(201, "PUT", cg+"/gold", `{"name":"Gold"}`)
	e.must(200, "PUT", cg+"/gold", `{"name":"Gold","required_plugins":[{"name":"key-auth","enabled":false,"priority":3,"parallel":true}]}`)
	e.must(409, "POST", cg, `{"name":"Premium Users"}`)
	e.must(409, "PUT", cg+"/gold", `{"name":"Premium Users"}`)
	e.must(400, "POST", cg, `{"name":"","required_plugins":[{"name":"nope"},{"name":"key-auth","stage":"later"}]}`)
	e.must(404, "GET", "/api/v1/gateways/ghost/consumer-groups", nil)
	e.must(404, "POST", "/api/v1/gateways/ghost/consumer-groups", `{"name":"x"}`)
	e.must(404, "GET", cg+"/ghost", nil)
	e.must(200, "GET", cg+"/premium/usage?user=alice&ip=192.0.2.1", nil)
	e.must(400, "GET", cg+"/premium/usage?ip=nope", nil)
	e.must(404, "GET", cg+"/ghost/usage", nil)
	e.must(409, "DELETE", "/api/v1/gateways/gw", nil)
	keys := cg + "/premium/keys"
	r = e.must(201, "POST", keys, `{"user_id":"user123","expires_at":"`+future+`"}`)
	keyID := r.JSON(t)["id"].(string)
	e.must(201, "POST", keys, `{"user_id":"alice"}`)
	e.must(200, "GET", keys, nil)
	e.must(409, "POST", cg+"/gold/keys", `{"user_id":"alice"}`)
	e.must(400, "POST", keys, `{"user_id":"","expires_at":"2001-01-01T00:00:00Z"}`)
	e.must(404, "POST", cg+"/ghost/keys", `{"user_id":"x"}`)
	e.must(204, "DELETE", keys+"/"+keyID, nil)
	e.must(404, "DELETE", keys+"/"+keyID, nil)
	e.must(204, "DELETE", cg+"/gold", nil)
	e.must(404, "DELETE", cg+"/gold", nil)
	e.must(204, "DELETE", "/api/v1/gateways/gw2", nil)

	e.must(204, "DELETE", "/api/groups/B", nil)
	e.must(204, "DELETE", "/api/consumers/bob", nil)
	e.must(404, "DELETE", "/api/consumers/bob", nil)
	e.must(200, "GET", "/api/openapi.json", nil)
	e.must(401, "GET", "/api/consumers", nil, "X-API-KEY", "wrong")
	e.must(404, "GET", "/api/nothing", nil)
	e.must(405, "DELETE", "/api/consumers", nil)

	// The export, in both formats, and an unknown format.
	e.must(200, "GET", "/api/export", nil)
	e.must(200, "GET", "/api/export?format=yaml", nil)
	e.must(400, "GET", "/api/export?format=toml", nil)

	// Without the plugins and the quota counter: 501.
	bare := newEnv(t)
	bare.must(201, "POST", "/api/consumers", `{"username":"u"}`)
	bare.must(501, "POST", "/api/apikeys", `{"clientName":"x"}`)
	bare.must(201, "POST", "/api/v1/gateways", `{"id":"g","name":"g"}`)
	// A broken store (500) and an unreachable one (503, Retry-After).
	broken := newEnv(t)
	broken.h = admin.New(failingStore{memory.New()}, nil, admin.WithKey(testKey), admin.WithLogger(slogTo(broken.logs)))
	broken.must(500, "GET", "/api/consumers", nil)
	down := newEnv(t)
	down.h = admin.New(unreachableStore{memory.New()}, nil, admin.WithKey(testKey), admin.WithLogger(slogTo(down.logs)))
	down.must(503, "GET", "/api/consumers", nil)
	down.must(503, "POST", "/api/consumers", `{"username":"x"}`)

	// Every operation was answered with a success.
	for _, o := range d.operations() {
		id := o.op["operationId"].(string)
		ok := slices.ContainsFunc(e.seen[id], func(code int) bool { return code < 300 })
		require.True(t, ok, "no request of this test got a success from %s (%s %s); statuses seen: %v", id, o.method, o.path.template, e.seen[id])
	}
	var all []int
	for _, env := range []*env{e, bare, broken, down} {
		for _, codes := range env.seen {
			all = append(all, codes...)
		}
	}
	for _, code := range []int{400, 401, 404, 405, 409, 413, 415, 500, 501, 503} {
		require.Contains(t, all, code)
	}
}

func TestSchemaChecker(t *testing.T) {
	doc, err := parseJSON([]byte(`{"components":{"schemas":{
		"Obj":{"type":"object","required":["id"],"additionalProperties":false,"properties":{
			"id":{"type":"string","pattern":"^[a-z]+$","maxLength":5},
			"n":{"type":["integer","null"],"minimum":0},
			"at":{"type":"string","format":"date-time"},
			"secret":{"type":"string","writeOnly":true},
			"kind":{"type":"string","enum":["a","b"]},
			"tags":{"type":"array","items":{"type":"string"},"uniqueItems":true,"maxItems":2},
			"labels":{"type":"object","additionalProperties":{"type":"string"}},
			"one":{"oneOf":[{"type":"string"},{"type":"integer"}]},
			"sub":{"$ref":"#/components/schemas/Sub"}}},
		"Sub":{"type":"object","required":["x"],"properties":{"x":{"type":"boolean"}}},
		"Odd":{"type":"object","unevaluatedProperties":false}}}}`))
	require.NoError(t, err)
	c := &schemaChecker{doc: doc}
	obj := map[string]any{"$ref": "#/components/schemas/Obj"}
	for _, tc := range []struct {
		body, fails string
	}{
		{`{"id":"abc","n":null,"at":"2026-01-02T03:04:05Z","kind":"a","tags":["x","y"],"labels":{"k":"v"},"one":3,"sub":{"x":true}}`, ""},
		{`{"id":"abc","n":3}`, ""},
		{`{}`, `required property "id"`},
		{`{"id":"ABC"}`, "does not match"},
		{`{"id":"abcdef"}`, "longer than"},
		{`{"id":"a","n":1.5}`, "not of type"},
		{`{"id":"a","n":-1}`, "below the minimum"},
		{`{"id":"a","at":"yesterday"}`, "RFC 3339"},
		{`{"id":"a","secret":"s"}`, "write-only"},
		{`{"id":"a","kind":"c"}`, "not one of"},
		{`{"id":"a","tags":["x","x"]}`, "are equal"},
		{`{"id":"a","tags":["x","y","z"]}`, "more than"},
		{`{"id":"a","tags":[1]}`, "not of type"},
		{`{"id":"a","labels":{"k":1}}`, "not of type"},
		{`{"id":"a","one":true}`, "matches 0 of oneOf"},
		{`{"id":"a","sub":{}}`, `required property "x"`},
		{`{"id":"a","extra":1}`, `"extra" is not in the schema`},
	} {
		v, err := parseJSON([]byte(tc.body))
		require.NoError(t, err)
		err = c.validateResponse(v, obj)
		if tc.fails == "" {
			require.NoError(t, err, tc.body)
		} else {
			require.ErrorContains(t, err, tc.fails, tc.body)
		}
	}
	secret, _ := parseJSON([]byte(`{"id":"a","secret":"s"}`))
	require.NoError(t, c.validateRequest(secret, obj), "a request may send a write-only property")
	require.ErrorContains(t, c.validateResponse(map[string]any{}, map[string]any{"$ref": "#/components/schemas/Odd"}), "does not know")
	require.ErrorContains(t, c.validateResponse(map[string]any{}, map[string]any{"$ref": "#/components/schemas/Missing"}), "no \"Missing\"")
	two, _ := parseJSON([]byte(`{"oneOf":[{"type":"integer"},{"type":"number"}]}`))
	require.ErrorContains(t, c.validateResponse(mustNumber(t, "3"), two.(map[string]any)), "matches 2 of oneOf")
}

func mustNumber(t *testing.T, s string) any {
	v, err := parseJSON([]byte(s))
	require.NoError(t, err)
	return v
}
