package admin

import (
	_ "embed"
	"net/http"
	"strconv"
)

// openAPI is the OpenAPI 3.1 document of this API, served at
// GET /api/openapi.json. It is maintained by hand; the package's tests check
// it against the routes the handler registers and the bodies it answers and
// accepts.
//
//go:embed openapi.json
var openAPI []byte

// serveOpenAPI answers GET /api/openapi.json with the document.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Length", strconv.Itoa(len(openAPI)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPI)
}
