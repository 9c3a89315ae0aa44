package gatehouse_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/route"
)

// The authorization matrix of the service-group model: keys on group A, B,
// both, neither, on the route itself; routes in 0, 1 and 2 groups.
func TestAuthorizationMatrix(t *testing.T) {
	routes := map[string][]string{"none": nil, "a": {"A"}, "ab": {"A", "B"}}
	var rs []route.Route
	for id, groups := range routes {
		r := keyRoute(id, `{}`)
		r.Groups = groups
		rs = append(rs, r)
	}
	f := newFixture(t, rs...)
	f.group("A", "B", "C")
	f.consumer(consumer.Consumer{Username: "alice"})
	keys := map[string][]string{
		"neither": nil,
		"on-a":    {"group_A"},
		"on-b":    {"B"}, // a bare id names a group
		"on-both": {"group_A", "group_B"},
		"on-ab":   {"route_ab"},
		"on-c":    {"group_C", "route_none"},
	}
	for name, ents := range keys {
		f.key("alice", name, "key-"+name, func(c *credential.Credential) { c.AuthorizedEntities = ents })
	}
	want := map[string]map[string]int{ // route → key → status
		"none": {"neither": 200, "on-a": 200, "on-b": 200, "on-both": 200, "on-ab": 200, "on-c": 200},
		"a":    {"neither": 403, "on-a": 200, "on-b": 403, "on-both": 200, "on-ab": 403, "on-c": 403},
		"ab":   {"neither": 403, "on-a": 200, "on-b": 200, "on-both": 200, "on-ab": 200, "on-c": 403},
	}
	for rid, row := range want {
		for key, status := range row {
			t.Run(fmt.Sprintf("route %s, key %s", rid, key), func(t *testing.T) {
				eventually(t, f.gw.Protect(rid, echo), "/", map[string]string{"apikey": "key-" + key}, status)
			})
		}
	}
}

// Moving a route between groups, or a key between groups, takes effect on the
// next request, without a restart.
func TestGroupMembershipChangesAtRuntime(t *testing.T) {
	ctx := context.Background()
	r := keyRoute("orders", `{}`)
	r.Groups = []string{"shop"}
	f := newFixture(t, r)
	f.group("shop", "billing")
	f.consumer(consumer.Consumer{Username: "alice"})
	f.key("alice", "k", "alice-secret-key", func(c *credential.Credential) { c.AuthorizedEntities = []string{"group_shop"} })
	h := f.gw.Protect("orders", echo)
	hdr := map[string]string{"apikey": "alice-secret-key"}
	eventually(t, h, "/", hdr, http.StatusOK)

	move := func(groups ...string) {
		_, _, err := f.st.PutRoute(ctx, "orders", func(cur *route.Route) (*route.Route, error) {
			cur.Groups = groups
			return cur, nil
		})
		require.NoError(t, err)
	}
	move("billing")
	eventually(t, h, "/", hdr, http.StatusForbidden)
	move("billing", "shop")
	eventually(t, h, "/", hdr, http.StatusOK)
	move()
	eventually(t, h, "/", hdr, http.StatusOK) // no groups: any authenticated consumer

	move("billing")
	eventually(t, h, "/", hdr, http.StatusForbidden)
	f.key("alice", "k", "alice-secret-key", func(c *credential.Credential) { c.AuthorizedEntities = []string{"billing"} })
	eventually(t, h, "/", hdr, http.StatusOK)
}

// A reference to a group that does not exist (never created, or deleted)
// stays on routes and credentials and authorizes nothing; creating the group
// again makes it count again.
func TestDeletedGroupAuthorizesNothing(t *testing.T) {
	ctx := context.Background()
	r := keyRoute("orders", `{}`)
	r.Groups = []string{"shop", "ghost"}
	f := newFixture(t, r)
	f.group("shop")
	f.consumer(consumer.Consumer{Username: "alice"})
	f.key("alice", "shop-key", "key-on-shop", func(c *credential.Credential) { c.AuthorizedEntities = []string{"group_shop"} })
	f.key("alice", "ghost-key", "key-on-ghost", func(c *credential.Credential) { c.AuthorizedEntities = []string{"ghost"} })
	f.key("alice", "route-key", "key-on-route", func(c *credential.Credential) { c.AuthorizedEntities = []string{"route_orders"} })
	h := f.gw.Protect("orders", echo)
	shop := map[string]string{"apikey": "key-on-shop"}

	eventually(t, h, "/", shop, http.StatusOK)
	eventually(t, h, "/", map[string]string{"apikey": "key-on-ghost"}, http.StatusForbidden) // never created
	eventually(t, h, "/", map[string]string{"apikey": "key-on-route"}, http.StatusOK)

	require.NoError(t, f.st.DeleteGroup(ctx, "shop"))
	eventually(t, h, "/", shop, http.StatusForbidden)
	eventually(t, h, "/", map[string]string{"apikey": "key-on-route"}, http.StatusOK) // the route itself still counts
	stored, err := f.st.GetRoute(ctx, "orders")
	require.NoError(t, err)
	require.Equal(t, []string{"shop", "ghost"}, stored.Groups, "deleting a group deletes nothing else")

	f.group("shop")
	eventually(t, h, "/", shop, http.StatusOK)
	f.group("ghost")
	eventually(t, h, "/", map[string]string{"apikey": "key-on-ghost"}, http.StatusOK)

	// A full reload sees the same groups.
	require.NoError(t, f.gw.Refresh(ctx))
	eventually(t, h, "/", shop, http.StatusOK)
}

// An API is a virtual group: every route naming it in `api` is in group
// api_<id>, so one key authorized on the API reaches all of its routes.
func TestVirtualGroupsOfAPIs(t *testing.T) {
	ctx := context.Background()
	orders, cart, invoices := keyRoute("orders", `{}`), keyRoute("cart", `{}`), keyRoute("invoices", `{}`)
	orders.API, cart.API, invoices.API = "shop", "shop", "billing"
	cart.Groups = []string{"A"}
	f := newFixture(t, orders, cart, invoices, keyRoute("open", `{}`))
	f.group("A")
	f.consumer(consumer.Consumer{Username: "alice"})
	keys := map[string][]string{
		"shop":    {"api_shop"},
		"billing": {"api_billing"},
		"group-a": {"group_A"},
		"bare":    {"shop"}, // a bare id names a group, not an API
		"ghost":   {"api_ghost"},
	}
	for name, ents := range keys {
		f.key("alice", name, "key-"+name, func(c *credential.Credential) { c.AuthorizedEntities = ents })
	}
	want := map[string]map[string]int{ // route → key → status
		"orders":   {"shop": 200, "billing": 403, "group-a": 403, "bare": 403, "ghost": 403},
		"cart":     {"shop": 200, "billing": 403, "group-a": 200, "bare": 403, "ghost": 403},
		"invoices": {"shop": 403, "billing": 200, "group-a": 403, "bare": 403, "ghost": 403},
		"open":     {"shop": 200, "billing": 200, "group-a": 200, "bare": 200, "ghost": 200},
	}
	for rid, row := range want {
		for key, status := range row {
			t.Run(fmt.Sprintf("route %s, key %s", rid, key), func(t *testing.T) {
				eventually(t, f.gw.Protect(rid, echo), "/", map[string]string{"apikey": "key-" + key}, status)
			})
		}
	}

	// Moving a route to another API applies on the next request.
	_, _, err := f.st.PutRoute(ctx, "orders", func(cur *route.Route) (*route.Route, error) {
		cur.API = "billing"
		return cur, nil
	})
	require.NoError(t, err)
	h := f.gw.Protect("orders", echo)
	eventually(t, h, "/", map[string]string{"apikey": "key-billing"}, http.StatusOK)
	eventually(t, h, "/", map[string]string{"apikey": "key-shop"}, http.StatusForbidden)
}

// An authorized entity names group g as "group_<g>" or as g itself, whatever
// the shape of g's id; route r as "route_<r>", or as r itself when r starts
// with "route_". So the ids of the Otoroshi reference ("group_payment_apis",
// "route_process_payment") work as written, and so do the prefixed forms.
func TestEntityReferencesOfBothShapes(t *testing.T) {
	ctx := context.Background()
	pay, ship, both := keyRoute("route_process_payment", `{}`), keyRoute("ship", `{}`), keyRoute("both", `{}`)
	pay.Groups, ship.Groups, both.Groups = []string{"group_payment_apis"}, []string{"shipping"}, []string{"group_payment_apis", "shipping"}
	f := newFixture(t, pay, ship, both)
	f.group("group_payment_apis", "shipping", "group_other")
	f.consumer(consumer.Consumer{Username: "alice"})
	keys := map[string][]string{
		"verbatim":       {"group_payment_apis"},       // the group's id as written
		"double":         {"group_group_payment_apis"}, // group_ + its id
		"ship-prefixed":  {"group_shipping"},
		"ship-bare":      {"shipping"},
		"route-verbatim": {"route_process_payment"},       // the route's id as written
		"route-double":   {"route_route_process_payment"}, // route_ + its id
		"route-short":    {"process_payment"},             // a bare id names a group, and there is none
		"several":        {"group_payment_apis", "shipping"},
		"other":          {"group_other"},
	}
	for name, ents := range keys {
		f.key("alice", name, "key-"+name, func(c *credential.Credential) { c.AuthorizedEntities = ents })
	}
	want := map[string]map[string]int{ // route → key → status
		"route_process_payment": {"verbatim": 200, "double": 200, "ship-prefixed": 403, "ship-bare": 403,
			"route-verbatim": 200, "route-double": 200, "route-short": 403, "several": 200, "other": 403},
		"ship": {"verbatim": 403, "double": 403, "ship-prefixed": 200, "ship-bare": 200,
			"route-verbatim": 403, "route-double": 403, "route-short": 403, "several": 200, "other": 403},
		"both": {"verbatim": 200, "double": 200, "ship-prefixed": 200, "ship-bare": 200,
			"route-verbatim": 403, "route-double": 403, "route-short": 403, "several": 200, "other": 403},
	}
	for rid, row := range want {
		for key, status := range row {
			t.Run(fmt.Sprintf("route %s, key %s", rid, key), func(t *testing.T) {
				eventually(t, f.gw.Protect(rid, echo), "/", map[string]string{"apikey": "key-" + key}, status)
			})
		}
	}

	// Moving a route to the other group at runtime.
	_, _, err := f.st.PutRoute(ctx, "ship", func(cur *route.Route) (*route.Route, error) {
		cur.Groups = []string{"group_payment_apis"}
		return cur, nil
	})
	require.NoError(t, err)
	h := f.gw.Protect("ship", echo)
	eventually(t, h, "/", map[string]string{"apikey": "key-verbatim"}, http.StatusOK)
	eventually(t, h, "/", map[string]string{"apikey": "key-double"}, http.StatusOK)
	eventually(t, h, "/", map[string]string{"apikey": "key-ship-bare"}, http.StatusForbidden)
	eventually(t, h, "/", map[string]string{"apikey": "key-ship-prefixed"}, http.StatusForbidden)

	// Deleting the group: its references, in both shapes, admit nothing; the
	// route's own references still do.
	require.NoError(t, f.st.DeleteGroup(ctx, "group_payment_apis"))
	p := f.gw.Protect("route_process_payment", echo)
	for _, key := range []string{"verbatim", "double", "several"} {
		eventually(t, p, "/", map[string]string{"apikey": "key-" + key}, http.StatusForbidden)
	}
	eventually(t, p, "/", map[string]string{"apikey": "key-route-verbatim"}, http.StatusOK)
	eventually(t, p, "/", map[string]string{"apikey": "key-route-double"}, http.StatusOK)
	eventually(t, f.gw.Protect("both", echo), "/", map[string]string{"apikey": "key-several"}, http.StatusOK) // still via shipping
}

// An entry shaped like a route's or an API's reference never names a group:
// creating a group whose id is "route_pub" or "api_shop" gives no access to
// keys authorized on route pub or on API shop. Such a group is named with
// the group_ prefix.
func TestEntityReferencesDoNotCrossKinds(t *testing.T) {
	adm, shop := keyRoute("admin", `{}`), keyRoute("shop-admin", `{}`)
	adm.Groups, shop.Groups = []string{"route_pub"}, []string{"api_shop"}
	f := newFixture(t, adm, shop, keyRoute("pub", `{}`))
	f.group("route_pub", "api_shop")
	f.consumer(consumer.Consumer{Username: "alice"})
	for name, ents := range map[string][]string{
		"on-route-pub": {"route_pub"},
		"on-api-shop":  {"api_shop"},
		"on-groups":    {"group_route_pub", "group_api_shop"},
	} {
		f.key("alice", name, "key-"+name, func(c *credential.Credential) { c.AuthorizedEntities = ents })
	}
	for _, tc := range []struct {
		route, key string
		want       int
	}{
		{"admin", "on-route-pub", http.StatusForbidden},
		{"shop-admin", "on-api-shop", http.StatusForbidden},
		{"admin", "on-groups", http.StatusOK},
		{"shop-admin", "on-groups", http.StatusOK},
	} {
		eventually(t, f.gw.Protect(tc.route, echo), "/", map[string]string{"apikey": "key-" + tc.key}, tc.want)
	}
}
