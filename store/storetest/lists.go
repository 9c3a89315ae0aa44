package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/servicegroup"
	"github.com/gatehousehq/gatehouse/store"
)

// lister lists one kind of object, returning the ids of a page.
type lister struct {
	name string
	// fill creates the objects ids in the order given.
	fill func(t *testing.T, s store.Store, ids []string)
	list func(ctx context.Context, s store.Store, opts store.ListOptions) (ids []string, total int, next string, err error)
}

func pageIDs[T any](p store.Page[T], err error, id func(*T) string) ([]string, int, string, error) {
	if err != nil {
		return nil, 0, "", err
	}
	ids := make([]string, len(p.Items))
	for i, v := range p.Items {
		ids[i] = id(v)
	}
	return ids, p.Total, p.Next, nil
}

var listers = []lister{
	{
		name: "Consumers",
		fill: func(t *testing.T, s store.Store, ids []string) {
			for _, id := range ids {
				mustPutConsumer(t, s, newConsumer(id, nil))
			}
		},
		list: func(ctx context.Context, s store.Store, opts store.ListOptions) ([]string, int, string, error) {
			p, err := s.ListConsumers(ctx, opts)
			return pageIDs(p, err, func(c *consumer.Consumer) string { return c.Username })
		},
	},
	{
		name: "Credentials",
		fill: func(t *testing.T, s store.Store, ids []string) {
			// Another consumer's credentials must not show up.
			for _, u := range []string{"alice", "bob"} {
				if _, err := s.GetConsumer(t.Context(), u); err != nil {
					mustPutConsumer(t, s, newConsumer(u, nil))
				}
			}
			for _, id := range ids {
				mustPutCredential(t, s, "alice", newCredential(id, "name-"+id, "lookup-"+id))
				mustPutCredential(t, s, "bob", newCredential(id, "name-"+id, "bob-lookup-"+id))
			}
			mustPutCredential(t, s, "bob", newCredential("only-bob", "only-bob", "only-bob"))
		},
		list: func(ctx context.Context, s store.Store, opts store.ListOptions) ([]string, int, string, error) {
			p, err := s.ListCredentials(ctx, "alice", opts)
			return pageIDs(p, err, func(c *credential.Credential) string {
				if c.Consumer != "alice" {
					return "wrong consumer " + c.Consumer
				}
				return c.ID
			})
		},
	},
	{
		name: "Routes",
		fill: func(t *testing.T, s store.Store, ids []string) {
			for _, id := range ids {
				mustPutRoute(t, s, newRoute(id))
			}
		},
		list: func(ctx context.Context, s store.Store, opts store.ListOptions) ([]string, int, string, error) {
			p, err := s.ListRoutes(ctx, opts)
			return pageIDs(p, err, func(r *route.Route) string { return r.ID })
		},
	},
	{
		name: "Groups",
		fill: func(t *testing.T, s store.Store, ids []string) {
			for _, id := range ids {
				mustPutGroup(t, s, newGroup(id, "t-"+id))
			}
		},
		list: func(ctx context.Context, s store.Store, opts store.ListOptions) ([]string, int, string, error) {
			p, err := s.ListGroups(ctx, opts)
			return pageIDs(p, err, func(g *servicegroup.Group) string { return g.ID })
		},
	},
}

// walk lists every page with the given limit and returns the pages' ids. It
// checks Total on every page and that only the last page has no Next.
func walk(t *testing.T, s store.Store, l lister, opts store.ListOptions, wantTotal int) [][]string {
	t.Helper()
	var pages [][]string
	for {
		ids, total, next, err := l.list(t.Context(), s, opts)
		require.NoError(t, err)
		require.Equal(t, wantTotal, total, "page %d: Total counts every matching item", len(pages))
		pages = append(pages, ids)
		if next == "" {
			return pages
		}
		require.NotEmpty(t, ids, "page %d is empty but has a Next", len(pages)-1)
		require.Less(t, len(pages), wantTotal+2, "pagination does not end")
		opts.Cursor = next
	}
}

func numbered(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%04d", prefix, i)
	}
	return ids
}

func shuffled(ids []string) []string {
	out := slices.Clone(ids)
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func testLists(t *testing.T, newStore func(*testing.T) store.Store) {
	for _, l := range listers {
		t.Run(l.name, func(t *testing.T) {
			t.Run("Empty", func(t *testing.T) {
				s := newStore(t)
				l.fill(t, s, nil)
				ids, total, next, err := l.list(t.Context(), s, store.ListOptions{})
				require.NoError(t, err)
				require.Empty(t, ids)
				require.Zero(t, total)
				require.Empty(t, next)
			})

			t.Run("Pages", func(t *testing.T) {
				s := newStore(t)
				ids := numbered("id-", 25)
				l.fill(t, s, shuffled(ids))
				pages := walk(t, s, l, store.ListOptions{Limit: 10}, 25)
				require.Equal(t, [][]string{ids[:10], ids[10:20], ids[20:]}, pages)

				pages = walk(t, s, l, store.ListOptions{Limit: 5}, 25)
				require.Len(t, pages, 5, "an exact multiple of the limit ends without an empty page")
				require.Equal(t, ids, slices.Concat(pages...))

				pages = walk(t, s, l, store.ListOptions{}, 25)
				require.Equal(t, [][]string{ids}, pages)
			})

			t.Run("ByteOrder", func(t *testing.T) {
				s := newStore(t)
				ids := []string{"b", "B", "a", "A", "_x", "-y", "10", "9", "a-b", "a_b", "ab", "aB", "Z"}
				l.fill(t, s, ids)
				want := slices.Clone(ids)
				sort.Strings(want)
				pages := walk(t, s, l, store.ListOptions{Limit: 4}, len(ids))
				require.Equal(t, want, slices.Concat(pages...), "lists are in byte order of ids")
			})

			t.Run("CursorSurvivesWrites", func(t *testing.T) {
				s, ctx := newStore(t), t.Context()
				ids := numbered("id-", 10)
				l.fill(t, s, ids)
				first, _, next, err := l.list(ctx, s, store.ListOptions{Limit: 4})
				require.NoError(t, err)
				require.Equal(t, ids[:4], first)
				// Delete the item the cursor points at, and add one before it.
				switch l.name {
				case "Consumers":
					require.NoError(t, s.DeleteConsumer(ctx, ids[3]))
				case "Credentials":
					require.NoError(t, s.DeleteCredential(ctx, "alice", ids[3]))
				case "Routes":
					require.NoError(t, s.DeleteRoute(ctx, ids[3]))
				case "Groups":
					require.NoError(t, s.DeleteGroup(ctx, ids[3]))
				}
				l.fill(t, s, []string{"id-0000a"})
				rest, total, next, err := l.list(ctx, s, store.ListOptions{Limit: 100, Cursor: next})
				require.NoError(t, err)
				require.Equal(t, ids[4:], rest)
				require.Equal(t, 10, total)
				require.Empty(t, next)
			})

			t.Run("BadCursor", func(t *testing.T) {
				s := newStore(t)
				l.fill(t, s, numbered("id-", 3))
				for _, c := range []string{"!!!", "not a cursor", "%%%"} {
					_, _, _, err := l.list(t.Context(), s, store.ListOptions{Cursor: c})
					require.ErrorIs(t, err, store.ErrInvalidCursor, "cursor %q", c)
					require.NotErrorIs(t, err, store.ErrNotFound)
					require.NotErrorIs(t, err, store.ErrConflict)
				}
			})
		})
	}

	t.Run("DefaultAndMaxLimit", func(t *testing.T) {
		s := newStore(t)
		n := store.MaxListLimit + 1
		ids := numbered("r", n)
		listers[2].fill(t, s, ids)
		for _, tc := range []struct {
			limit, want int
		}{
			{0, store.DefaultListLimit},
			{-1, store.DefaultListLimit},
			{1, 1},
			{store.MaxListLimit, store.MaxListLimit},
			{store.MaxListLimit + 1, store.MaxListLimit},
			{1 << 30, store.MaxListLimit},
		} {
			p, err := s.ListRoutes(t.Context(), store.ListOptions{Limit: tc.limit})
			require.NoError(t, err)
			require.Len(t, p.Items, tc.want, "limit %d", tc.limit)
			require.Equal(t, n, p.Total)
			require.NotEmpty(t, p.Next, "limit %d", tc.limit)
		}
		pages := walk(t, s, listers[2], store.ListOptions{Limit: 5000}, n)
		require.Len(t, pages, 2)
		require.Equal(t, ids, slices.Concat(pages...))
	})

	t.Run("LabelFilter", func(t *testing.T) {
		s := newStore(t)
		labels := map[string]map[string]string{
			"c0": {"team": "a", "env": "prod"},
			"c1": {"team": "a", "env": "dev"},
			"c2": {"team": "b", "env": "prod"},
			"c3": nil,
			"c4": {"team": "a", "env": "prod", "tier": "gold"},
			"c5": {"team": "a"},
			"c6": {"team": "A", "env": "prod"},
			"c7": {"env": "prod"},
		}
		for u, l := range labels {
			mustPutConsumer(t, s, newConsumer(u, l))
		}
		l := listers[0]
		for _, tc := range []struct {
			filter map[string]string
			want   []string
		}{
			{nil, []string{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"}},
			{map[string]string{}, []string{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"}},
			{map[string]string{"team": "a"}, []string{"c0", "c1", "c4", "c5"}},
			{map[string]string{"team": "a", "env": "prod"}, []string{"c0", "c4"}},
			{map[string]string{"env": "prod"}, []string{"c0", "c2", "c4", "c6", "c7"}},
			{map[string]string{"team": ""}, nil},
			{map[string]string{"tier": "gold"}, []string{"c4"}},
			{map[string]string{"team": "c"}, nil},
		} {
			pages := walk(t, s, l, store.ListOptions{Limit: 2, Labels: tc.filter}, len(tc.want))
			got := slices.Concat(pages...)
			if len(tc.want) == 0 {
				require.Empty(t, got, "filter %v", tc.filter)
				continue
			}
			require.Equal(t, tc.want, got, "filter %v", tc.filter)
		}
	})

	t.Run("TagFilter", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		tags := map[string][]string{
			"g0": {"payment", "finance"},
			"g1": {"finance"},
			"g2": {"payment"},
			"g3": nil,
			"g4": {"Payment"},
			"g5": {"payment-v2", "pay"},
			"g6": {"internal", "payment", "v1"},
		}
		for id, tt := range tags {
			mustPutGroup(t, s, newGroup(id, tt...))
		}
		l := listers[3]
		for _, tc := range []struct {
			tag  string
			want []string
		}{
			{"", []string{"g0", "g1", "g2", "g3", "g4", "g5", "g6"}},
			{"payment", []string{"g0", "g2", "g6"}},
			{"finance", []string{"g0", "g1"}},
			{"Payment", []string{"g4"}},
			{"pay", []string{"g5"}},
			{"v1", []string{"g6"}},
			{"none", nil},
		} {
			pages := walk(t, s, l, store.ListOptions{Limit: 2, Tag: tc.tag}, len(tc.want))
			got := slices.Concat(pages...)
			if len(tc.want) == 0 {
				require.Empty(t, got, "tag %q", tc.tag)
				continue
			}
			require.Equal(t, tc.want, got, "tag %q: whole tags, case-sensitive", tc.tag)
		}

		// Retagging moves a group in or out of the filter.
		mustPutGroup(t, s, newGroup("g3", "payment"))
		mustPutGroup(t, s, newGroup("g0", "finance"))
		p, err := s.ListGroups(ctx, store.ListOptions{Tag: "payment"})
		require.NoError(t, err)
		require.Equal(t, 3, p.Total)
		ids, _, _, err := pageIDs(p, nil, func(g *servicegroup.Group) string { return g.ID })
		require.NoError(t, err)
		require.Equal(t, []string{"g2", "g3", "g6"}, ids)
	})
}
