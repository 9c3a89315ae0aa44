package restriction_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/restriction"
)

// A whitelist of consumer names, checked against the caller the gateway
// identified.
func Example() {
	p, err := restriction.Definition{}.New(json.RawMessage(`{"whitelist":["alice"]}`))
	if err != nil {
		panic(err)
	}
	r := p.(*restriction.Restriction)
	req := httptest.NewRequest(http.MethodGet, "/reports", nil)
	for _, name := range []string{"alice", "bob"} {
		id := &consumer.Identity{Consumer: &consumer.Consumer{Username: name}}
		if refusal := r.Authorize(req, id); refusal != nil {
			fmt.Println(name, refusal.Status, refusal.Message)
		} else {
			fmt.Println(name, "allowed")
		}
	}
	// Output:
	// alice allowed
	// bob 403 The consumer_name is forbidden.
}
