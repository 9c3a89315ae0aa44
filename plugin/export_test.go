package plugin

import "net/http"

// Held returns the length and capacity of the body bytes held by w, the
// writer Serve passes to the handler; ok is false when w is not Serve's
// wrapper.
func Held(w http.ResponseWriter) (n, c int, ok bool) {
	rw, ok := w.(*respWriter)
	if !ok {
		return 0, 0, false
	}
	return len(rw.buf), cap(rw.buf), true
}
