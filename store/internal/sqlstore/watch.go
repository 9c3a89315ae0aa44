package sqlstore

import (
	"context"
	"database/sql"
	"sync"
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
	// dirty is set by Wake (and the poll): the outbox may hold changes
	// nobody announced, so it must be read.
	dirty atomic.Bool

	// announced holds changes announced with their rows (Announce), in
	// sequence order, not yet forwarded: while they follow on from the
	// last change forwarded, the watcher needs no read of the outbox.
	mu        sync.Mutex
	announced []row
}

// maxAnnounced bounds a watcher's announced rows; past it they are dropped
// and the outbox is read instead.
const maxAnnounced = readBatch

// take returns the announced rows that follow on from last, in order, and
// forgets every row up to them; none when the first announced row after
// last is not last+1 (the outbox is read then).
func (w *watcher) take(last int64) []row {
	w.mu.Lock()
	defer w.mu.Unlock()
	i := 0
	for i < len(w.announced) && w.announced[i].seq <= last {
		i++
	}
	rows := w.announced[i:]
	w.announced = nil
	for j := range rows {
		if rows[j].seq != last+1+int64(j) {
			return nil
		}
	}
	return rows
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
		w.dirty.Store(true)
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// Announce tells every watcher of changes committed elsewhere, with their
// sequence numbers (first, first+1, ...): a watcher to which they follow on
// forwards them without reading the outbox; another reads it as after
// Wake. Another instance's notification carries them (store/postgres).
func (s *Store) Announce(first int64, changes []store.Change) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for w := range s.watchers {
		w.mu.Lock()
		if len(w.announced)+len(changes) <= maxAnnounced {
			for i, c := range changes {
				w.announced = append(w.announced, row{seq: first + int64(i), c: c})
			}
		} else {
			w.announced = nil
		}
		w.mu.Unlock()
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
		w.dirty.Store(true)
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
	var known int64 // the newest sequence number a read of the outbox saw
	for {
		more := false
		read := true
		if rows := w.take(last); len(rows) > 0 && !w.reset.Load() {
			// Announced: forward them as the outbox would have, and read
			// the outbox only if something else may have come meanwhile
			// (a Wake: this store's own writes; or the poll).
			for _, r := range rows {
				if !send(r.c) {
					return
				}
				last = r.seq
			}
			read = w.dirty.Swap(false) || last < known
		} else {
			w.dirty.Store(false)
		}
		if read {
			if head, rows, err := s.next(ctx, last); err == nil {
				known = head
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
			w.dirty.Store(true)
		}
	}
}
