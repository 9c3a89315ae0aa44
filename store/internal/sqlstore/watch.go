package sqlstore

import (
	"context"
	"database/sql"
	"sync/atomic"
	"time"

	"github.com/gatehousehq/gatehouse/store"
)

// Watcher buffering: a watcher's channel holds chanSize changes; one that
// falls more than maxLag changes behind the outbox's head skips to the head
// and receives store.KindReset. readBatch bounds one read of the outbox.
const (
	chanSize  = 256
	maxLag    = 4096
	readBatch = 512
)

// watcher reads the outbox after its last sequence number and forwards the
// changes to one Watch channel.
type watcher struct {
	out   chan store.Change
	wake  chan struct{} // capacity 1: the outbox may have more
	reset atomic.Bool   // changes may have been missed: send KindReset
}

// Watch delivers a Change for every write committed from now on, read from
// the outbox in commit order, until ctx is done or the store is closed, when
// the channel is closed. A watcher that falls more than a few thousand
// changes behind, or needs changes pruned from the outbox, receives
// store.KindReset and goes on from the newest change.
func (s *Store) Watch(ctx context.Context) (<-chan store.Change, error) {
	head, err := s.head(ctx)
	if err != nil {
		return nil, err
	}
	w := &watcher{out: make(chan store.Change, chanSize), wake: make(chan struct{}, 1)}
	s.mu.Lock()
	s.watchers[w] = struct{}{}
	s.mu.Unlock()
	go func() {
		s.run(ctx, w, head)
		s.mu.Lock()
		delete(s.watchers, w)
		s.mu.Unlock()
		close(w.out)
	}()
	return w.out, nil
}

// Wake tells every watcher that the outbox may have new rows: a write of this
// store committed, or another instance announced one.
func (s *Store) Wake() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for w := range s.watchers {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// ResetWatchers sends store.KindReset to every watcher, which then goes on
// from the newest change: for a back-end that may have missed announcements
// (a lost connection).
func (s *Store) ResetWatchers() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for w := range s.watchers {
		w.reset.Store(true)
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// head returns the sequence number of the newest change.
func (s *Store) head(ctx context.Context) (int64, error) {
	var seq int64
	err := s.r.QueryRowContext(ctx, "SELECT seq FROM feed WHERE one = 1").Scan(&seq)
	return seq, s.dbErr(ctx, err)
}

// row is one change of the outbox.
type row struct {
	seq int64
	c   store.Change
}

// next returns the sequence number of the newest change and the outbox rows
// after last, at most readBatch, in one round trip: the feed joined with the
// changes after last, so that one statement (one snapshot) reads both. With
// no change after last, the one row has only the feed's number.
func (s *Store) next(ctx context.Context, last int64) (head int64, out []row, err error) {
	rows, err := s.r.QueryContext(ctx, s.nextQuery, last, readBatch)
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var seq, kind, deleted sql.NullInt64
		var consumer, id sql.NullString
		if err := rows.Scan(&head, &seq, &kind, &deleted, &consumer, &id); err != nil {
			return 0, nil, err
		}
		if !seq.Valid {
			continue
		}
		out = append(out, row{seq: seq.Int64, c: store.Change{
			Kind: store.Kind(kind.Int64), Deleted: deleted.Int64 != 0, Consumer: consumer.String, ID: id.String,
		}})
	}
	return head, out, rows.Err()
}

// nextSQL is next's statement.
// The limit is inside the join, so that a watcher far behind reads
// readBatch rows of the index, not every row after last.
const nextSQL = "SELECT f.seq, c.seq, c.kind, c.deleted, c.consumer, c.id FROM feed f " +
	"LEFT JOIN (SELECT seq, kind, deleted, consumer, id FROM changes WHERE seq > ? ORDER BY seq LIMIT ?) c " +
	"ON c.seq <= f.seq WHERE f.one = 1 ORDER BY c.seq"

// run forwards the outbox to w from after seq last until ctx is done or the
// store closes. Sequence numbers are contiguous, so a missing one means the
// row was pruned.
func (s *Store) run(ctx context.Context, w *watcher, last int64) {
	tick := time.NewTicker(s.poll)
	defer tick.Stop()
	send := func(c store.Change) bool {
		select {
		case w.out <- c:
			return true
		case <-ctx.Done():
		case <-s.done:
		}
		return false
	}
	for {
		more := false
		if head, rows, err := s.next(ctx, last); err == nil {
			if w.reset.Swap(false) || head-last > maxLag {
				last = head
				if !send(store.Change{Kind: store.KindReset}) {
					return
				}
				continue
			}
			if head > last && (len(rows) == 0 || rows[0].seq != last+1) {
				// Pruned under our feet.
				last = head
				if !send(store.Change{Kind: store.KindReset}) {
					return
				}
				continue
			}
			for _, r := range rows {
				if !send(r.c) {
					return
				}
				last = r.seq
				if w.reset.Load() {
					break
				}
			}
			more = last < head
		}
		if more {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return
		case <-w.wake:
		case <-tick.C:
		}
	}
}
