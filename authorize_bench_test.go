package gatehouse_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
)

// BenchmarkAuthorizeManyGroups measures key-auth plus authorization with a
// key authorized on 100 groups and a route in 10 groups, the last of which is
// the one the key shares; compare with BenchmarkProtectKeyAuth/header for the
// cost of the authorization step itself.
func BenchmarkAuthorizeManyGroups(b *testing.B) {
	r := keyRoute("r", `{}`)
	for i := range 10 {
		r.Groups = append(r.Groups, fmt.Sprintf("route-group-%02d", i))
	}
	f := newFixture(b, r)
	f.group(r.Groups...)
	var entities []string
	for i := range 99 {
		entities = append(entities, fmt.Sprintf("group_key-group-%03d", i))
	}
	entities = append(entities, "group_route-group-09")
	f.consumer(consumer.Consumer{Username: "alice"})
	f.key("alice", "k", benchKey(1), func(c *credential.Credential) { c.AuthorizedEntities = entities })
	h := f.gw.Protect("r", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	eventually(b, h, "/", map[string]string{"apikey": benchKey(1)}, http.StatusOK)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header["Apikey"] = []string{benchKey(1)}
	w := &nopWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}
