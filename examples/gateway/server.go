package main

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// serverLimits are the timeouts and size limits of both servers (data plane
// and admin API). README.md, "Timeouts and limits", says why each default.
type serverLimits struct {
	// readHeader bounds reading a request's headers, from its first byte
	// (http.Server.ReadHeaderTimeout): the slow-loris defence.
	readHeader time.Duration
	// bodyIdle bounds each wait for more of a request body: an upload may
	// take as long as it needs while it keeps sending.
	bodyIdle time.Duration
	// write bounds writing a whole response, from the end of its request's
	// headers (http.Server.WriteTimeout); 0: none.
	write time.Duration
	// writeStall bounds how long one write of a response may stay blocked
	// on a client that does not read: such a client is dropped, a slow
	// stream that keeps flowing is not.
	writeStall time.Duration
	// idle bounds a keep-alive connection's wait for its next request
	// (http.Server.IdleTimeout).
	idle time.Duration
	// maxHeaderBytes caps a request's header block, request line included
	// (http.Server.MaxHeaderBytes); larger ones get 431.
	maxHeaderBytes int
}

func newServer(h http.Handler, log *slog.Logger, l serverLimits) *http.Server {
	return &http.Server{
		Handler:           withStallDeadlines(h, l.bodyIdle, l.writeStall, l.write),
		ReadHeaderTimeout: l.readHeader,
		WriteTimeout:      l.write,
		IdleTimeout:       l.idle,
		MaxHeaderBytes:    l.maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// withStallDeadlines moves the connection's read deadline forward before
// each read of a request body (by bodyIdle), and its write deadline before
// each write of the response (by writeStall, never past the whole-response
// deadline writeTimeout). http.Server has only whole-request and
// whole-response deadlines, which cut slow uploads and long streams that are
// making progress; these end only the connections that stall. A zero
// duration leaves that side to http.Server.
func withStallDeadlines(h http.Handler, bodyIdle, writeStall, writeTimeout time.Duration) http.Handler {
	if bodyIdle <= 0 && writeStall <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if bodyIdle > 0 && r.Body != nil && r.Body != http.NoBody {
			r.Body = &idleBody{ReadCloser: r.Body, rc: rc, idle: bodyIdle}
		}
		if writeStall <= 0 {
			h.ServeHTTP(w, r)
			return
		}
		sw := &stallWriter{ResponseWriter: w, rc: rc, stall: writeStall}
		if writeTimeout > 0 {
			sw.limit = time.Now().Add(writeTimeout)
		}
		h.ServeHTTP(sw, r)
		if sw.wrote && !sw.hijacked {
			// The server flushes what is still buffered once the handler
			// returns: give that flush its own allowance.
			sw.extend()
		}
	})
}

// idleBody is a request body each read of which may wait idle for data.
type idleBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
	// done is set once the body has returned an error (io.EOF included):
	// the server then reads the connection in the background, and a
	// deadline set now would end that read and cancel the request.
	done bool
}

func (b *idleBody) Read(p []byte) (int, error) {
	if b.done {
		return b.ReadCloser.Read(p)
	}
	_ = b.rc.SetReadDeadline(time.Now().Add(b.idle))
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.done = true
	}
	return n, err
}

// stallWriter is a ResponseWriter each write of which may stay blocked on
// the client for stall. Time between writes (a backend that is slow to send
// the next part of a stream) does not count.
type stallWriter struct {
	http.ResponseWriter
	rc    *http.ResponseController
	stall time.Duration
	// limit is the whole-response deadline (-write-timeout); zero: none.
	limit           time.Time
	wrote, hijacked bool
}

func (w *stallWriter) extend() {
	d := time.Now().Add(w.stall)
	if !w.limit.IsZero() && w.limit.Before(d) {
		d = w.limit
	}
	_ = w.rc.SetWriteDeadline(d)
}

func (w *stallWriter) WriteHeader(code int) {
	w.extend()
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *stallWriter) Write(p []byte) (int, error) {
	w.extend()
	w.wrote = true
	return w.ResponseWriter.Write(p)
}

// FlushError sends what is buffered to the client (http.ResponseController,
// and so httputil.ReverseProxy, flushes through it).
func (w *stallWriter) FlushError() error {
	w.extend()
	w.wrote = true
	return w.rc.Flush()
}

// Flush is FlushError for code that asserts http.Flusher.
func (w *stallWriter) Flush() { _ = w.FlushError() }

// Hijack hands the connection over (a protocol switch such as WebSocket);
// its deadlines are then the hijacker's.
func (w *stallWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := w.rc.Hijack()
	if err == nil {
		w.hijacked = true
	}
	return conn, brw, err
}

// Unwrap gives http.ResponseController the server's ResponseWriter.
func (w *stallWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
