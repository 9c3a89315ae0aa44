package admin

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehousehq/gatehouse/store"
)

// List is the body of every list response.
type List[T any] struct {
	// Items is the page, in id order; never null.
	Items []T `json:"items"`
	// Total counts every matching object, on all pages.
	Total int `json:"total"`
	// Next is the cursor of the following page, or "" on the last one.
	Next string `json:"next"`
}

// listOptions reads ?limit=, ?cursor= and, when labels is true, every
// ?label=key:value.
func listOptions(r *http.Request, labels bool) (store.ListOptions, error) {
	return readListOptions(r, labels, false)
}

// readListOptions reads ?limit=, ?cursor=, every ?label=key:value when labels
// is true, and ?tag= when tag is true, naming every invalid parameter.
func readListOptions(r *http.Request, labels, tag bool) (store.ListOptions, error) {
	q := r.URL.Query()
	opts := store.ListOptions{Limit: store.DefaultListLimit, Cursor: q.Get("cursor")}
	fields := map[string]string{}
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v[0]))
		if err != nil || n < 1 || n > store.MaxListLimit {
			fields["limit"] = "must be a whole number from 1 to " + strconv.Itoa(store.MaxListLimit)
		} else {
			opts.Limit = n
		}
	}
	if labels {
		for _, l := range q["label"] {
			k, v, ok := strings.Cut(l, ":")
			if !ok || k == "" {
				fields["label"] = "must be key:value"
				break
			}
			if prev, dup := opts.Labels[k]; dup && prev != v {
				fields["label"] = "names the key " + strconv.Quote(k) + " twice with different values"
				break
			}
			if opts.Labels == nil {
				opts.Labels = map[string]string{}
			}
			opts.Labels[k] = v
		}
	}
	if tag {
		for _, t := range q["tag"] {
			if opts.Tag != "" && t != "" && t != opts.Tag {
				fields["tag"] = "give one tag: " + strconv.Quote(opts.Tag) + " and " + strconv.Quote(t) + " were both asked for"
				break
			}
			if t != "" {
				opts.Tag = t
			}
		}
	}
	if len(fields) > 0 {
		return opts, badRequest("the query has invalid parameters; see fields", fields)
	}
	return opts, nil
}

// listOf converts a store page with view, so that items is [] when empty.
func listOf[T, V any](p store.Page[T], view func(*T) V) List[V] {
	out := List[V]{Items: make([]V, 0, len(p.Items)), Total: p.Total, Next: p.Next}
	for _, it := range p.Items {
		out.Items = append(out.Items, view(it))
	}
	return out
}

var errBadCursor = badRequest("the cursor is not one this server issued; start again without it",
	map[string]string{"cursor": "is not a valid cursor"})
