package admin

import "net/http"

// Patterns returns every pattern h registered on its ServeMux, in order.
func Patterns(h *Handler) []string {
	return append([]string(nil), h.mux.patterns...)
}

// MatchedPattern returns the pattern of h's ServeMux that r reaches.
func MatchedPattern(h *Handler, r *http.Request) string {
	_, p := h.mux.Handler(r)
	return p
}
