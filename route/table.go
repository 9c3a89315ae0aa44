package route

import (
	"sort"
	"strings"
)

// Table matches request paths to routes by longest path prefix. It is immutable
// once built and safe for concurrent use.
type Table[T any] struct {
	entries []tableEntry[T]
}

type tableEntry[T any] struct {
	prefix string
	route  *Route
	value  T
}

// Add registers value under every path of r. Call it only while building.
func (t *Table[T]) Add(r *Route, value T) {
	for _, p := range r.Frontend.Paths {
		t.entries = append(t.entries, tableEntry[T]{prefix: strings.TrimSuffix(p, "/"), route: r, value: value})
	}
}

// Freeze orders the table for matching; call it once after the last Add.
func (t *Table[T]) Freeze() {
	sort.SliceStable(t.entries, func(i, j int) bool {
		a, b := t.entries[i], t.entries[j]
		if len(a.prefix) != len(b.prefix) {
			return len(a.prefix) > len(b.prefix)
		}
		return a.route.ID < b.route.ID
	})
}

// Match returns the value of the route with the longest prefix of path that
// serves method, and the matched prefix. A prefix matches the path itself and
// any path below it ("/a" matches "/a" and "/a/b", not "/ab").
func (t *Table[T]) Match(method, path string) (v T, prefix string, ok bool) {
	for i := range t.entries {
		e := &t.entries[i]
		if !hasPathPrefix(path, e.prefix) || !e.route.AllowsMethod(method) {
			continue
		}
		return e.value, e.prefix, true
	}
	return v, "", false
}

func hasPathPrefix(path, prefix string) bool {
	if prefix == "" {
		return true
	}
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	return len(path) == len(prefix) || path[len(prefix)] == '/'
}
