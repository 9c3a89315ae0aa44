package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gatehousehq/gatehouse/store"
	"github.com/gatehousehq/gatehouse/validation"
)

// Error codes of API.md §2.
const (
	codeBadRequest           = "bad_request"
	codeUnauthorized         = "unauthorized"
	codeNotFound             = "not_found"
	codeMethodNotAllowed     = "method_not_allowed"
	codeConflict             = "conflict"
	codePayloadTooLarge      = "payload_too_large"
	codeUnsupportedMediaType = "unsupported_media_type"
	codeInternal             = "internal"
	codeUnavailable          = "unavailable"
)

// ErrorBody is the JSON body of every error response:
// {"error": code, "message": sentence, "fields": {field: why}}.
type ErrorBody struct {
	// Code is one of bad_request, unauthorized, forbidden, not_found,
	// method_not_allowed, conflict, payload_too_large, unsupported_media_type,
	// internal or unavailable.
	Code string `json:"error"`
	// Message is a sentence for humans.
	Message string `json:"message"`
	// Fields names every invalid field of a request, with the reason. It is
	// present on validation errors, and on conflicts a field of the request
	// causes ("already in use").
	Fields map[string]string `json:"fields,omitempty"`
}

// httpError is an error with the response it deserves. Mutators return it to
// abort a write with a precise answer.
type httpError struct {
	status int
	body   ErrorBody
}

func (e *httpError) Error() string { return e.body.Message }

func newError(status int, code, msg string) *httpError {
	return &httpError{status: status, body: ErrorBody{Code: code, Message: msg}}
}

func badRequest(msg string, fields map[string]string) *httpError {
	e := newError(http.StatusBadRequest, codeBadRequest, msg)
	e.body.Fields = fields
	return e
}

// notFound wraps store.ErrNotFound so that a mutator's refusal is matched like
// the store's own.
type notFound struct{ msg string }

func (e notFound) Error() string { return e.msg }
func (e notFound) Unwrap() error { return store.ErrNotFound }

// conflict wraps store.ErrConflict, with a message for the client.
type conflict struct {
	msg   string
	field string
}

func (e conflict) Error() string { return e.msg }
func (e conflict) Unwrap() error { return store.ErrConflict }

// messages tells fail what to say for the store's sentinel errors.
type messages struct {
	notFound string
	conflict string
}

// fail answers err: a *httpError as is, a validation error 400 with fields,
// store.ErrNotFound 404, store.ErrConflict 409, store.ErrUnavailable and a
// store that outlasts the request's timeout (WithTimeout) 503 with
// Retry-After (logged once per call, the store's error not shown), anything
// else 500 (logged, with a generic message).
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error, m messages) {
	var he *httpError
	var ve *validation.Error
	var nf notFound
	var cf conflict
	switch {
	case errors.As(err, &he):
		writeError(w, he)
	case errors.As(err, &ve):
		fields := make(map[string]string, len(ve.Fields))
		for f, why := range ve.Fields {
			if f == "" {
				f = "body"
			}
			if _, dup := fields[f]; !dup {
				fields[f] = why
			}
		}
		writeError(w, badRequest("the request has invalid fields; see fields", fields))
	case errors.Is(err, store.ErrInvalidCursor):
		writeError(w, errBadCursor)
	case errors.As(err, &nf):
		writeError(w, newError(http.StatusNotFound, codeNotFound, nf.msg))
	case errors.Is(err, store.ErrNotFound):
		writeError(w, newError(http.StatusNotFound, codeNotFound, m.notFound))
	case errors.As(err, &cf):
		e := newError(http.StatusConflict, codeConflict, cf.msg)
		if cf.field != "" {
			e.body.Fields = map[string]string{cf.field: "already in use"}
		}
		writeError(w, e)
	case errors.Is(err, store.ErrConflict):
		writeError(w, newError(http.StatusConflict, codeConflict, m.conflict))
	case errors.Is(err, context.DeadlineExceeded) && errors.Is(context.Cause(r.Context()), errTimeout):
		h.log.WarnContext(r.Context(), "admin: the store did not answer within the request's timeout",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Duration("timeout", h.timeout))
		w.Header().Set("Retry-After", "1")
		writeError(w, newError(http.StatusServiceUnavailable, codeUnavailable,
			"the configuration store did not answer in time; retry later"))
	case errors.Is(err, store.ErrUnavailable):
		h.log.WarnContext(r.Context(), "admin: store unavailable",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("error", err))
		w.Header().Set("Retry-After", "1")
		writeError(w, newError(http.StatusServiceUnavailable, codeUnavailable,
			"the configuration store cannot be reached; retry later"))
	default:
		h.log.ErrorContext(r.Context(), "admin: request failed",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("error", err))
		writeError(w, newError(http.StatusInternalServerError, codeInternal,
			"the server could not complete the request; the error was logged"))
	}
}

func writeError(w http.ResponseWriter, e *httpError) {
	writeJSON(w, e.status, e.body)
}

// writeJSON answers status with v as JSON. Admin responses may carry a
// generated secret: they are never cached.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"internal","message":"the response could not be encoded"}`)
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func fieldMismatch(field, what string) *httpError {
	return badRequest(fmt.Sprintf("the %s in the body does not match the one in the URL", what),
		map[string]string{field: "must match the URL or be omitted"})
}
