package gatehouse_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// Bound how long Router waits for a backend: start from the default
// transport and shorten its response-header timeout. A backend that accepts
// the connection and never answers is then a 504 within 200 ms.
func ExampleWithUpstreamTransport() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0") // a backend that never answers
	defer ln.Close()

	tr := gatehouse.DefaultUpstreamTransport()
	tr.ResponseHeaderTimeout = 200 * time.Millisecond
	defer tr.CloseIdleConnections()

	gw, err := gatehouse.New(context.Background(), memory.New(),
		gatehouse.WithLogger(discardLogger()),
		gatehouse.WithUpstreamTransport(tr),
		gatehouse.WithRoutes(route.Route{
			ID:       "slow",
			Frontend: route.Frontend{Paths: []string{"/slow"}},
			Backend:  &route.Backend{Target: "http://" + ln.Addr().String()},
		}))
	if err != nil {
		panic(err)
	}
	defer gw.Close()

	fmt.Println(call(gw.Router(), "GET", "/slow/report", ""))
	// Output:
	// 504 {"message":"upstream timed out"}
}
