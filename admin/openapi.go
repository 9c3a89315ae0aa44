package admin

import (
	_ "embed"
	"net/http"
	"strconv"
)

// openAPI is the OpenAPI 3.1 document of this API, served at
// GET /api/openapi.json. It is written by hand; the package's tests check it
// against the routes the handler registers and the bodies it answers.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI 3.1 document (JSON) that describes the admin
// API, as GET /api/openapi.json serves it. The slice is a copy.
func OpenAPI() []byte {
	return append([]byte(nil), openAPI...)
}

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Length", strconv.Itoa(len(openAPI)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPI)
}
