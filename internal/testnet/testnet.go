// Package testnet holds network peers that misbehave on purpose, for the
// project's own tests: a backend that never answers, a proxy that can cut a server away.
package testnet

import (
	"net"
	"sync"
	"testing"
)

// HungBackend starts a listener on loopback that accepts connections and
// never reads or writes on them, and returns its URL ("http://127.0.0.1:…").
// The listener and every connection it accepted are closed when the test
// ends.
func HungBackend(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("testnet: listen: %v", err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + ln.Addr().String()
}
