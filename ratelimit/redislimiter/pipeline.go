package redislimiter

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// maxBatch is the most commands one pipeline carries.
const maxBatch = 128

// script is a Lua script sent by its SHA-1 digest (EVALSHA) and by its
// source (EVAL) when the server answers that it does not hold it.
type script struct {
	src, sha string
}

func newScript(src string) *script {
	sum := sha1.Sum([]byte(src))
	return &script{src: src, sha: hex.EncodeToString(sum[:])}
}

// evalSha starts the arguments of an EVALSHA of s on nkeys keys, with room
// for the keys and nargs arguments, which the caller appends.
func (s *script) evalSha(nkeys, nargs int) []any {
	return append(make([]any, 0, 3+nkeys+nargs), "evalsha", s.sha, nkeys)
}

// States of a call (call.state).
const (
	queued    int32 = iota // in the batcher's queue
	taken                  // in a pipeline being sent
	finished               // its reply is in cmd; done is (being) signalled
	abandoned              // its caller stopped waiting: the sender drops it
)

// call is one decision's command on its way through the batcher.
type call struct {
	cmd    *redis.Cmd
	script *script // the script cmd runs, nil for a plain command
	state  atomic.Int32
	done   chan struct{} // receives once cmd has its reply
}

var calls = sync.Pool{New: func() any { return &call{done: make(chan struct{}, 1)} }}

// batcher sends the commands of decisions made at the same time as one
// pipeline: a caller that finds fewer than max pipelines in flight sends
// its command at once, alone, on its own context; the others queue, and
// whichever sender finishes next takes the whole queue (up to maxBatch) as
// its next pipeline. Every command so rides exactly one round trip, and a
// lone decision waits for nothing but its own. The senders of queued
// commands are goroutines that live while the queue is not empty: nothing
// runs while the limiter is idle, and there is nothing to close.
type batcher struct {
	client redis.UniversalClient
	max    int // pipelines in flight at most; 0: every command sent alone

	mu      sync.Mutex
	queue   []*call
	senders int // commands or pipelines in flight; queue not empty ⇒ senders == max
}

// do sends cmd, a run of sc (nil for a plain command), and returns the
// command that got the reply (an EVAL of sc's source after a NOSCRIPT
// answer) or ctx's error if ctx is done first; the reply of an abandoned
// command is dropped.
func (b *batcher) do(ctx context.Context, sc *script, cmd *redis.Cmd) (*redis.Cmd, error) {
	if b.max == 0 {
		return b.sendOne(ctx, sc, cmd), nil
	}
	b.mu.Lock()
	if b.senders < b.max {
		b.senders++
		b.mu.Unlock()
		cmd = b.sendOne(ctx, sc, cmd)
		b.release()
		return cmd, nil
	}
	c := calls.Get().(*call)
	c.cmd, c.script = cmd, sc
	c.state.Store(queued)
	b.queue = append(b.queue, c)
	b.mu.Unlock()

	select {
	case <-c.done:
	case <-ctx.Done():
		for {
			s := c.state.Load()
			if s == finished {
				<-c.done
				break
			}
			if c.state.CompareAndSwap(s, abandoned) {
				return nil, ctx.Err() // the sender recycles c
			}
		}
	}
	cmd = c.cmd
	c.cmd, c.script = nil, nil
	calls.Put(c)
	return cmd, nil
}

// release gives a sender's turn back, or to a goroutine sending what has
// queued meanwhile.
func (b *batcher) release() {
	b.mu.Lock()
	if len(b.queue) == 0 {
		b.senders--
		b.mu.Unlock()
		return
	}
	b.mu.Unlock()
	go b.drain()
}

// drain sends the queue as pipelines until it is empty, then gives its turn
// back. The pipelines carry the commands of many callers and so none of
// their contexts: they are sent under context.Background(), bounded by the
// client's timeouts, while each caller waits only as long as its own
// context lets it.
func (b *batcher) drain() {
	var batch []*call
	ctx := context.Background()
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxBatch)
		if n == 0 {
			b.senders--
			b.mu.Unlock()
			return
		}
		batch = append(batch[:0], b.queue[:n]...)
		rest := copy(b.queue, b.queue[n:])
		clear(b.queue[rest:])
		b.queue = b.queue[:rest]
		b.mu.Unlock()

		live := batch[:0]
		for _, c := range batch {
			if c.state.CompareAndSwap(queued, taken) {
				live = append(live, c)
			} else {
				recycle(c)
			}
		}
		switch len(live) {
		case 0:
		case 1:
			live[0].cmd = b.sendOne(ctx, live[0].script, live[0].cmd)
		default:
			b.sendPipeline(ctx, live)
		}
		for _, c := range live {
			if c.state.CompareAndSwap(taken, finished) {
				c.done <- struct{}{}
			} else {
				recycle(c)
			}
		}
		clear(batch)
	}
}

// recycle returns an abandoned call to the pool.
func recycle(c *call) {
	c.cmd, c.script = nil, nil
	calls.Put(c)
}

// sendOne sends cmd alone and returns the command holding the reply.
func (b *batcher) sendOne(ctx context.Context, sc *script, cmd *redis.Cmd) *redis.Cmd {
	_ = b.client.Process(ctx, cmd)
	if sc != nil && noScript(cmd.Err()) {
		cmd = eval(ctx, sc, cmd)
		_ = b.client.Process(ctx, cmd)
	}
	return cmd
}

// sendPipeline sends the commands of cs as one pipeline, then the EVALs of
// those the server answered NOSCRIPT as a second one.
func (b *batcher) sendPipeline(ctx context.Context, cs []*call) {
	pipe := b.client.Pipeline()
	for _, c := range cs {
		_ = pipe.Process(ctx, c.cmd)
	}
	_, _ = pipe.Exec(ctx) // every command holds its own error
	retry := 0
	for _, c := range cs {
		if c.script != nil && noScript(c.cmd.Err()) {
			c.cmd = eval(ctx, c.script, c.cmd)
			_ = pipe.Process(ctx, c.cmd)
			retry++
		}
	}
	if retry > 0 {
		_, _ = pipe.Exec(ctx)
	}
}

// noScript reports whether err is the server's answer to an EVALSHA of a
// script it does not hold (after a SCRIPT FLUSH, a restart or a fail-over).
func noScript(err error) bool {
	return err != nil && (errors.Is(err, redis.ErrNoScript) || redis.HasErrorPrefix(err, "NOSCRIPT"))
}

// eval returns the EVAL of sc with cmd's keys and arguments, which also
// loads sc into the server's script cache.
func eval(ctx context.Context, sc *script, cmd *redis.Cmd) *redis.Cmd {
	a := append([]any(nil), cmd.Args()...)
	a[0], a[1] = "eval", sc.src
	return redis.NewCmd(ctx, a...)
}
