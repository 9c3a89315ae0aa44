package clientip_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/gatehousehq/gatehouse/clientip"
)

// Behind a load balancer in 10.0.0.0/8, the client is the right-most
// X-Forwarded-For entry that is not one of the trusted proxies; entries a
// client wrote itself, further left, are ignored.
func Example() {
	res, err := clientip.New("10.0.0.0/8")
	if err != nil {
		panic(err)
	}

	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.0.0.2:51234" // the load balancer
	r.Header.Set("X-Forwarded-For", "6.6.6.6, 198.51.100.23, 10.0.0.7")
	fmt.Println(res.Resolve(r))

	// A peer that is not trusted cannot choose its address.
	r.RemoteAddr = "203.0.113.9:40000"
	fmt.Println(res.Resolve(r))
	// Output:
	// 198.51.100.23
	// 203.0.113.9
}
