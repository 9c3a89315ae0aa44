package route_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/route"
)

func rt(id string, paths []string, methods ...string) *route.Route {
	return &route.Route{ID: id, Frontend: route.Frontend{Paths: paths, Methods: methods}}
}

func build(routes ...*route.Route) *route.Table[string] {
	var t route.Table[string]
	for _, r := range routes {
		t.Add(r, r.ID)
	}
	t.Freeze()
	return &t
}

func TestTableMatch(t *testing.T) {
	tests := []struct {
		name       string
		routes     []*route.Route
		method     string
		path       string
		wantID     string
		wantPrefix string
		// wantID == "" means no match.
	}{
		{"exact path", []*route.Route{rt("a", []string{"/a"})}, "GET", "/a", "a", "/a"},
		{"path below prefix", []*route.Route{rt("a", []string{"/a"})}, "GET", "/a/b", "a", "/a"},
		{"trailing slash in request", []*route.Route{rt("a", []string{"/a"})}, "GET", "/a/", "a", "/a"},
		{"not a sibling with the prefix as a string prefix", []*route.Route{rt("a", []string{"/a"})}, "GET", "/ab", "", ""},
		{"no match", []*route.Route{rt("a", []string{"/a"})}, "GET", "/b", "", ""},
		{"empty table", nil, "GET", "/a", "", ""},
		{"longest prefix wins", []*route.Route{rt("short", []string{"/a"}), rt("long", []string{"/a/b"})},
			"GET", "/a/b/c", "long", "/a/b"},
		{"longest prefix wins whatever the order added", []*route.Route{rt("long", []string{"/a/b"}), rt("short", []string{"/a"})},
			"GET", "/a/b", "long", "/a/b"},
		{"shorter prefix when the longer does not match", []*route.Route{rt("short", []string{"/a"}), rt("long", []string{"/a/b"})},
			"GET", "/a/bc", "short", "/a"},
		{"root is a fallback", []*route.Route{rt("root", []string{"/"}), rt("a", []string{"/a"})}, "GET", "/zzz", "root", ""},
		{"root matches root", []*route.Route{rt("root", []string{"/"})}, "GET", "/", "root", ""},
		{"root loses to a longer prefix", []*route.Route{rt("root", []string{"/"}), rt("a", []string{"/a"})}, "GET", "/a/x", "a", "/a"},
		{"method filter falls through to shorter prefix",
			[]*route.Route{rt("short", []string{"/a"}, "POST"), rt("long", []string{"/a/b"}, "GET")},
			"POST", "/a/b", "short", "/a"},
		{"method filter picks longer prefix when allowed",
			[]*route.Route{rt("short", []string{"/a"}, "POST"), rt("long", []string{"/a/b"}, "GET")},
			"GET", "/a/b", "long", "/a/b"},
		{"method filter falls through to root",
			[]*route.Route{rt("root", []string{"/"}), rt("a", []string{"/a"}, "GET")},
			"DELETE", "/a", "root", ""},
		{"no route allows the method", []*route.Route{rt("a", []string{"/a"}, "GET")}, "POST", "/a", "", ""},
		{"HEAD served by a GET route", []*route.Route{rt("a", []string{"/a"}, "GET")}, "HEAD", "/a", "a", "/a"},
		{"same prefix, method decides", []*route.Route{rt("get", []string{"/a"}, "GET"), rt("post", []string{"/a"}, "POST")},
			"POST", "/a", "post", "/a"},
		{"configured trailing slash behaves like none", []*route.Route{rt("a", []string{"/a/"})}, "GET", "/a", "a", "/a"},
		{"configured trailing slash, path below", []*route.Route{rt("a", []string{"/a/"})}, "GET", "/a/b", "a", "/a"},
		{"configured trailing slash, sibling", []*route.Route{rt("a", []string{"/a/"})}, "GET", "/ab", "", ""},
		{"several paths on one route", []*route.Route{rt("multi", []string{"/x", "/y/z"})}, "GET", "/y/z/1", "multi", "/y/z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tbl := build(tt.routes...)
			got, prefix, ok := tbl.Match(tt.method, tt.path)
			require.Equal(t, tt.wantID != "", ok)
			require.Equal(t, tt.wantID, got)
			require.Equal(t, tt.wantPrefix, prefix)
		})
	}
}

func TestTableSamePrefixIsDeterministic(t *testing.T) {
	// Two routes claim the same prefix: whichever is added first, the same one wins.
	a, b := rt("a", []string{"/p"}), rt("b", []string{"/p"})
	first, _, ok := build(a, b).Match("GET", "/p")
	require.True(t, ok)
	second, _, ok := build(b, a).Match("GET", "/p")
	require.True(t, ok)
	require.Equal(t, first, second)
}

func TestTableConcurrentMatch(t *testing.T) {
	tbl := build(rt("root", []string{"/"}), rt("a", []string{"/a"}, "GET"))
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				v, _, ok := tbl.Match("GET", "/a/b")
				if !ok || v != "a" {
					t.Error("wrong match", v, ok)
					return
				}
			}
		}()
	}
	wg.Wait()
}
