package credential_test

import (
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
)

func match(id, lookup string) *credential.Match {
	return &credential.Match{
		Credential: &credential.Credential{ID: id, Lookup: lookup, Enabled: true},
		Identity:   consumer.Identity{Consumer: &consumer.Consumer{Username: "u-" + id}, CredentialID: id},
	}
}

func TestIndexFind(t *testing.T) {
	a, b := match("a", "la"), match("b", "lb")
	x := credential.NewIndex()
	require.Equal(t, 0, x.Len())
	x.Update(nil, []*credential.Match{a, b})
	tests := []struct {
		lookup string
		want   *credential.Match
	}{
		{"la", a},
		{"lb", b},
		{"lc", nil},
		{"", nil},
	}
	for _, tt := range tests {
		t.Run(tt.lookup, func(t *testing.T) {
			got, ok := x.Find([]byte(tt.lookup))
			require.Equal(t, tt.want != nil, ok)
			require.Same(t, tt.want, got)
		})
	}
	require.Equal(t, 2, x.Len())
}

func TestIndexUpdate(t *testing.T) {
	a, b, c := match("a", "la"), match("b", "lb"), match("c", "lc")
	aNew := match("a", "la2")     // a's key rotated
	thief := match("d", "la")     // a newer credential that took a's lookup
	aRenamed := match("a2", "la") // same lookup, new match value

	tests := []struct {
		name      string
		initial   []*credential.Match
		drop, add []*credential.Match
		want      map[string]*credential.Match
	}{
		{"add to empty", nil, nil, []*credential.Match{a, b},
			map[string]*credential.Match{"la": a, "lb": b}},
		{"drop", []*credential.Match{a, b}, []*credential.Match{a}, nil,
			map[string]*credential.Match{"lb": b}},
		{"drop unknown is a no-op", []*credential.Match{a}, []*credential.Match{c}, nil,
			map[string]*credential.Match{"la": a}},
		{"rotate lookup", []*credential.Match{a, b}, []*credential.Match{a}, []*credential.Match{aNew},
			map[string]*credential.Match{"la2": aNew, "lb": b}},
		{"replace same lookup in one update", []*credential.Match{a}, []*credential.Match{a}, []*credential.Match{aRenamed},
			map[string]*credential.Match{"la": aRenamed}},
		{"drop of a stale match keeps the newer owner", []*credential.Match{thief, b}, []*credential.Match{a}, nil,
			map[string]*credential.Match{"la": thief, "lb": b}},
		{"add overwrites lookup", []*credential.Match{a}, nil, []*credential.Match{thief},
			map[string]*credential.Match{"la": thief}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := credential.NewIndex()
			x.Update(nil, tt.initial)
			x.Update(tt.drop, tt.add)
			require.Equal(t, len(tt.want), x.Len())
			for lookup, want := range tt.want {
				got, ok := x.Find([]byte(lookup))
				require.True(t, ok, lookup)
				require.Same(t, want, got, lookup)
			}
			for _, m := range append(append([]*credential.Match{}, tt.initial...), tt.add...) {
				if _, kept := tt.want[m.Credential.Lookup]; !kept {
					_, ok := x.Find([]byte(m.Credential.Lookup))
					require.False(t, ok, "lookup %q should be gone", m.Credential.Lookup)
				}
			}
		})
	}
}

func TestIndexReplace(t *testing.T) {
	a, b, c := match("a", "la"), match("b", "lb"), match("c", "lc")
	x := credential.NewIndex()
	x.Update(nil, []*credential.Match{a, b})

	x.Replace([]*credential.Match{c}, nil)
	require.Equal(t, 1, x.Len())
	_, ok := x.Find([]byte("la"))
	require.False(t, ok)
	got, ok := x.Find([]byte("lc"))
	require.True(t, ok)
	require.Same(t, c, got)

	x.Replace(nil, nil)
	require.Equal(t, 0, x.Len())
	_, ok = x.Find([]byte("lc"))
	require.False(t, ok)
}

func TestIndexConcurrentFindDuringUpdate(t *testing.T) {
	x := credential.NewIndex()
	stable := match("stable", "stable")
	x.Update(nil, []*credential.Match{stable})

	const writers, readers, rounds = 2, 4, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				m := match("w"+strconv.Itoa(w)+"-"+strconv.Itoa(i), "l"+strconv.Itoa(w)+"-"+strconv.Itoa(i))
				x.Update(nil, []*credential.Match{m})
				x.Update([]*credential.Match{m}, nil)
			}
		}()
	}
	errs := make(chan string, readers)
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				got, ok := x.Find([]byte("stable"))
				if !ok || got != stable {
					errs <- "stable credential not found during update"
					return
				}
				_ = x.Len()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	require.Equal(t, 1, x.Len())
}

func TestIndexFindDoesNotAllocate(t *testing.T) {
	x := credential.NewIndex()
	x.Update(nil, []*credential.Match{match("a", "some-lookup-hash")})
	key := []byte("some-lookup-hash")
	allocs := testing.AllocsPerRun(100, func() {
		if _, ok := x.Find(key); !ok {
			t.Fatal("not found")
		}
	})
	require.Zero(t, allocs)
}
