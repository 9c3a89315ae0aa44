package consumer_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/gatehousehq/gatehouse/consumer"
)

// whoami is an application handler behind gw.Protect or gw.Middleware: the
// gateway has put the consumer that made the request in its context.
func whoami(w http.ResponseWriter, r *http.Request) {
	c, ok := consumer.FromContext(r.Context())
	if !ok {
		http.Error(w, "no consumer", http.StatusUnauthorized) // a public route
		return
	}
	id, _ := consumer.IdentityFromContext(r.Context())
	fmt.Fprintf(w, "%s (team %s) with credential %s, anonymous %v",
		c.Username, c.Labels["team"], id.CredentialID, id.Anonymous)
}

// A handler reads the caller with FromContext. In the handler's own tests,
// NewContext puts an identity in the request the way the gateway does.
func ExampleFromContext() {
	r := httptest.NewRequest(http.MethodGet, "/whoami", nil)
	r = r.WithContext(consumer.NewContext(r.Context(), &consumer.Identity{
		Consumer:     &consumer.Consumer{Username: "alice", Labels: map[string]string{"team": "mobile"}},
		CredentialID: "laptop",
	}))
	w := httptest.NewRecorder()
	whoami(w, r)
	fmt.Println(w.Body.String())

	w = httptest.NewRecorder()
	whoami(w, httptest.NewRequest(http.MethodGet, "/whoami", nil))
	fmt.Print(w.Code, " ", w.Body.String())
	// Output:
	// alice (team mobile) with credential laptop, anonymous false
	// 401 no consumer
}
