// Command gin shows Gatehouse with the Gin framework: gw.Middleware is a
// func(http.Handler) http.Handler, wrapped once into a gin.HandlerFunc.
//
//	cd examples/gin && go run .
//
// It is a module of its own so that users of Gatehouse never download Gin.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/admin"
	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/memory"
)

func main() {
	gin.SetMode(gin.ReleaseMode)
	r, err := newRouter(context.Background(), "change-me-admin-key")
	if err != nil {
		log.Fatal(err)
	}
	addr := "127.0.0.1:8092"
	fmt.Printf("listening on http://%s (admin API under /admin, key change-me-admin-key)\n", addr)
	srv := &http.Server{Addr: addr, Handler: r, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// wrap turns a net/http middleware into Gin middleware. The wrapped middleware
// either answers itself (401, 403, 429: the chain stops) or calls next with a
// request that carries the consumer and the writer to answer through; Gin's
// chain then goes on with both, so c.Request.Context() holds the consumer in
// the handlers after it, and what they write passes through the gateway's
// plugins (rate-limit headers, response plugins).
func wrap(mw func(http.Handler) http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		called := false
		orig := c.Writer
		mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			called = true
			c.Request = r
			if w == http.ResponseWriter(orig) {
				c.Next()
				return
			}
			gw := &writer{ResponseWriter: orig, w: w, status: http.StatusOK, size: -1}
			c.Writer = gw
			c.Next()
			gw.WriteHeaderNow() // a handler that only set a status
			c.Writer = orig
		})).ServeHTTP(orig, c.Request)
		if !called {
			c.Abort()
		}
	}
}

// writer is a gin.ResponseWriter that writes through the http.ResponseWriter
// the middleware handed on. Like Gin's own, it holds the status until the
// first write, so that headers set after c.Status still go out.
type writer struct {
	gin.ResponseWriter // Gin's writer, for CloseNotify and Pusher
	w                  http.ResponseWriter
	status, size       int // size -1: the head is not written yet
}

func (x *writer) Header() http.Header { return x.w.Header() }

func (x *writer) WriteHeader(code int) {
	if code > 0 && !x.Written() {
		x.status = code
	}
}

func (x *writer) WriteHeaderNow() {
	if !x.Written() {
		x.size = 0
		x.w.WriteHeader(x.status)
	}
}

func (x *writer) Write(b []byte) (int, error) {
	x.WriteHeaderNow()
	n, err := x.w.Write(b)
	x.size += n
	return n, err
}

func (x *writer) WriteString(s string) (int, error) { return x.Write([]byte(s)) }
func (x *writer) Status() int                       { return x.status }
func (x *writer) Size() int                         { return x.size }
func (x *writer) Written() bool                     { return x.size != -1 }

func (x *writer) Flush() {
	x.WriteHeaderNow()
	_ = http.NewResponseController(x.w).Flush()
}

func (x *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(x.w).Hijack()
}

func (x *writer) Unwrap() http.ResponseWriter { return x.w }

// newRouter builds a Gin engine whose /orders routes need a key and allow each
// consumer 3 requests a minute.
func newRouter(ctx context.Context, adminKey string) (*gin.Engine, error) {
	gw, err := gatehouse.New(ctx, memory.New(), gatehouse.WithRoutes(route.Route{
		ID: "orders",
		Plugins: map[string]json.RawMessage{
			"key-auth":    json.RawMessage(`{}`),
			"limit-count": json.RawMessage(`{"count":3,"time_window":60,"key_type":"consumer"}`),
		},
	}))
	if err != nil {
		return nil, err
	}
	r := gin.New()
	r.Use(gin.Recovery())
	r.GET("/healthz", func(c *gin.Context) { c.String(http.StatusOK, "ok\n") })
	orders := r.Group("/orders", wrap(gw.Middleware("orders")))
	orders.GET("/:id", func(c *gin.Context) {
		who, _ := consumer.FromContext(c.Request.Context())
		c.String(http.StatusOK, "order %s for %s\n", c.Param("id"), who.Username)
	})
	r.Any("/admin/*path", gin.WrapH(http.StripPrefix("/admin", gw.AdminHandler(admin.WithKey(adminKey)))))
	return r, nil
}
