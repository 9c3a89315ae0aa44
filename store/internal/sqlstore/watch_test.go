package sqlstore

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/store"
)

// TestWatcherTake: announced rows are forwarded only while they follow on
// from the last change forwarded; rows already forwarded are dropped, and a
// gap sends the watcher to the outbox.
func TestWatcherTake(t *testing.T) {
	c := func(name string) store.Change { return store.Change{Kind: store.KindConsumer, Consumer: name} }
	announce := func(w *watcher, first int64, names ...string) {
		for i, n := range names {
			w.announced = append(w.announced, row{seq: first + int64(i), c: c(n)})
		}
	}
	seqs := func(rows []row) (out []int64) {
		for _, r := range rows {
			out = append(out, r.seq)
		}
		return out
	}

	w := &watcher{}
	announce(w, 5, "a", "b")
	require.Equal(t, []int64{5, 6}, seqs(w.take(4)), "they follow on from 4")
	require.Empty(t, w.take(6), "taken once")

	announce(w, 5, "a", "b", "c")
	require.Equal(t, []int64{7}, seqs(w.take(6)), "5 and 6 were read from the outbox already")

	announce(w, 9, "x")
	require.Empty(t, w.take(7), "8 is missing: read the outbox")
	require.Empty(t, w.announced, "and forget them")

	announce(w, 8, "a")
	announce(w, 10, "c")
	require.Empty(t, w.take(7), "9 is missing in the middle")
}
