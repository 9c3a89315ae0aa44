package admin

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"
)

// Media types accepted on writes.
const (
	mediaJSON       = "application/json"
	mediaJSONPatch  = "application/json-patch+json"
	mediaMergePatch = "application/merge-patch+json"
)

// Limits on what a body may hold beyond its size (WithMaxBody).
const (
	// MaxPatchOperations is the most operations one JSON Patch (RFC 6902)
	// may hold: each one walks the document, so that a body of tiny
	// operations would cost far more than its size. Larger: 400.
	MaxPatchOperations = 1000
)

// mediaType returns the request's media type, lower-case, without parameters;
// "" when there is no Content-Type.
func mediaType(r *http.Request) (string, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return "", nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", unsupported(ct)
	}
	return mt, nil
}

func unsupported(ct string) *httpError {
	return newError(http.StatusUnsupportedMediaType, codeUnsupportedMediaType,
		fmt.Sprintf("content type %q is not supported here: send Content-Type: application/json (PATCH also takes application/merge-patch+json and application/json-patch+json)", ct))
}

// readBody reads the whole body, up to the handler's limit.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.max))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, newError(http.StatusRequestEntityTooLarge, codePayloadTooLarge,
				fmt.Sprintf("the request body is larger than %d bytes", h.max))
		}
		return nil, badRequest("the request body could not be read", nil)
	}
	return body, nil
}

// readJSON reads the body of a POST or PUT into v: application/json or no
// Content-Type, one JSON object, no unknown field.
func (h *Handler) readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	mt, err := mediaType(r)
	if err != nil {
		return err
	}
	if mt != "" && mt != mediaJSON {
		return unsupported(r.Header.Get("Content-Type"))
	}
	body, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	return decodeStrict(body, v)
}

// decodeStrict decodes one JSON object into v, refusing unknown fields and
// anything after the object.
func decodeStrict(data []byte, v any) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return badRequest("the request body is empty: send a JSON object", nil)
	}
	if trimmed[0] != '{' {
		return badRequest("the request body must be a JSON object", nil)
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("the request body holds data after the JSON object", nil)
	}
	return nil
}

// jsonError turns a decoding error into a 400 that names the field when it can.
func jsonError(err error) *httpError {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return badRequest(fmt.Sprintf("the request body is not valid JSON (offset %d): %s", syn.Offset, syn.Error()), nil)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("the request body is not valid JSON: it ends too early", nil)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return badRequest("the request has invalid fields; see fields",
			map[string]string{field: "must be a JSON " + jsonKind(typ.Type.Kind().String())})
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		f = strings.Trim(f, `"`)
		return badRequest(fmt.Sprintf("unknown field %q", f), map[string]string{f: "unknown field"})
	}
	return badRequest("the request body could not be decoded: "+strings.TrimPrefix(msg, "json: "), nil)
}

// jsonKind names a Go kind the way a JSON user would.
func jsonKind(k string) string {
	switch k {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "map", "struct", "ptr":
		return "object"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "number"
	}
	return "value of another type"
}

// patcher applies a PATCH body to the JSON of the current object.
type patcher func(doc []byte) ([]byte, error)

// readPatch reads a PATCH body: RFC 6902 for application/json-patch+json,
// RFC 7396 for application/merge-patch+json, application/json or no
// Content-Type.
func (h *Handler) readPatch(w http.ResponseWriter, r *http.Request) (patcher, error) {
	mt, err := mediaType(r)
	if err != nil {
		return nil, err
	}
	switch mt {
	case mediaJSONPatch, mediaMergePatch, mediaJSON, "":
	default:
		return nil, unsupported(r.Header.Get("Content-Type"))
	}
	body, err := h.readBody(w, r)
	if err != nil {
		return nil, err
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, badRequest("the request body is empty: send a patch", nil)
	}
	if !json.Valid(body) {
		return nil, badRequest("the patch is not valid JSON", nil)
	}
	if mt == mediaJSONPatch {
		if body[0] != '[' {
			return nil, badRequest("a JSON Patch (RFC 6902) must be an array of operations", nil)
		}
		p, err := jsonpatch.DecodePatch(body)
		if err != nil {
			return nil, badRequest("the JSON Patch (RFC 6902) could not be decoded: "+err.Error(), nil)
		}
		if len(p) > MaxPatchOperations {
			return nil, badRequest(fmt.Sprintf("a JSON Patch may hold at most %d operations, not %d: send a PUT instead", MaxPatchOperations, len(p)), nil)
		}
		opts := jsonpatch.NewApplyOptions()
		opts.AccumulatedCopySizeLimit = h.max
		return func(doc []byte) ([]byte, error) {
			out, err := p.ApplyWithOptions(doc, opts)
			if err != nil {
				return nil, badRequest("the JSON Patch does not apply: "+err.Error(), nil)
			}
			return out, nil
		}, nil
	}
	if body[0] != '{' {
		return nil, badRequest("a merge patch (RFC 7396) must be a JSON object", nil)
	}
	return func(doc []byte) ([]byte, error) {
		out, err := jsonpatch.MergePatch(doc, body)
		if err != nil {
			return nil, badRequest("the merge patch does not apply: "+err.Error(), nil)
		}
		return out, nil
	}, nil
}

// newID returns a random URL-safe identifier: 16 random bytes, hex-encoded.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// location returns the absolute path of the object at rel (a path below the
// handler's root, such as "/api/consumers/alice"), keeping the prefix the
// host stripped with http.StripPrefix.
func location(r *http.Request, rel string) string {
	prefix := ""
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil {
		if p, ok := strings.CutSuffix(u.EscapedPath(), r.URL.EscapedPath()); ok {
			prefix = p
		}
	}
	return prefix + rel
}
