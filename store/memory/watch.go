package memory

import (
	"context"
	"sync"

	"github.com/gatehousehq/gatehouse/store"
)

// Watcher buffering: a watcher holds up to chanSize changes in its channel and
// up to queueSize more in its queue; past that, queued changes are dropped and
// it receives one store.KindReset once it catches up.
const (
	chanSize  = 256
	queueSize = 4096
)

// watcher forwards the store's changes to one Watch channel. Writers append to
// its queue without blocking; a goroutine moves the queue into the channel.
type watcher struct {
	out    chan store.Change
	signal chan struct{} // capacity 1: the queue has something

	mu    sync.Mutex
	queue []store.Change
	reset bool // changes were dropped: send a KindReset before anything else
}

// Watch delivers a Change for every write made from now on, until ctx is done,
// when the channel is closed. Writers never wait for a watcher: one that falls
// more than a few thousand changes behind loses them and receives a
// store.KindReset instead.
func (s *Store) Watch(ctx context.Context) (<-chan store.Change, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w := &watcher{
		out:    make(chan store.Change, chanSize),
		signal: make(chan struct{}, 1),
	}
	s.mu.Lock()
	s.watchers[w] = struct{}{}
	s.mu.Unlock()
	go func() {
		w.run(ctx)
		s.mu.Lock()
		delete(s.watchers, w)
		s.mu.Unlock()
		close(w.out)
	}()
	return w.out, nil
}

// notify queues c for every watcher. Called with s.mu held for writing, so
// watchers see changes in the order the writes happened.
func (s *Store) notify(c store.Change) {
	for w := range s.watchers {
		w.push(c)
	}
}

// push queues c without blocking.
func (w *watcher) push(c store.Change) {
	w.mu.Lock()
	switch {
	case w.reset:
		// The reset to come covers c.
	case len(w.queue) >= queueSize:
		w.queue = nil
		w.reset = true
	default:
		w.queue = append(w.queue, c)
	}
	w.mu.Unlock()
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

// next takes the change to send next, if any.
func (w *watcher) next() (store.Change, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.reset {
		w.reset = false
		return store.Change{Kind: store.KindReset}, true
	}
	if len(w.queue) == 0 {
		return store.Change{}, false
	}
	c := w.queue[0]
	w.queue[0] = store.Change{}
	w.queue = w.queue[1:]
	if len(w.queue) == 0 {
		w.queue = nil // let the backing array go
	}
	return c, true
}

// run forwards queued changes to w.out until ctx is done.
func (w *watcher) run(ctx context.Context) {
	for {
		c, ok := w.next()
		if !ok {
			select {
			case <-w.signal:
				continue
			case <-ctx.Done():
				return
			}
		}
		select {
		case w.out <- c:
		case <-ctx.Done():
			return
		}
	}
}
