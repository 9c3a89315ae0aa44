// Command echo is a tiny upstream for trying the reference gateway: it answers
// every request with a JSON description of what it received, so that the
// X-Consumer-* headers the gateway adds are visible.
//
//	go run ./examples/echo [-listen 127.0.0.1:9000]
package main

import (
	"encoding/json"
	"flag"
	"log/slog"
	"net/http"
	"os"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9000", "address to listen on")
	flag.Parse()
	slog.Info("echo upstream listening", "addr", *listen)
	srv := &http.Server{Addr: *listen, Handler: http.HandlerFunc(echo), ReadHeaderTimeout: 10 * time.Second}
	slog.Error("echo upstream stopped", "err", srv.ListenAndServe())
	os.Exit(1)
}

// reply is what echo answers.
type reply struct {
	Method  string              `json:"method"`
	Path    string              `json:"path"`
	Query   string              `json:"query,omitempty"`
	Headers map[string][]string `json:"headers"`
}

func echo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(reply{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Headers: r.Header})
}
