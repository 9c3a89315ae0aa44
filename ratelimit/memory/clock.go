package memory

import (
	"sync/atomic"
	"time"
)

// DefaultClockResolution is how often the default clock is brought up to
// date (WithClockResolution).
const DefaultClockResolution = time.Millisecond

// minClockResolution bounds WithClockResolution from below: a ticker much
// faster than this would cost a core's worth of wake-ups.
const minClockResolution = 100 * time.Microsecond

// clockParkAfter is how long the default clock keeps ticking without being
// read before it stops, until the next reading.
const clockParkAfter = time.Second

// monoClock reads the monotonic clock as Unix nanoseconds: a reading taken
// at start, plus the monotonic time elapsed since. It costs about half of
// time.Now and is not moved by changes to the wall clock.
type monoClock struct {
	start   time.Time // with its monotonic reading
	startNS int64     // start in Unix nanoseconds
}

func newMonoClock() monoClock {
	start := time.Now()
	return monoClock{start: start, startNS: start.UnixNano()}
}

func (m *monoClock) read() int64 { return m.startNS + int64(time.Since(m.start)) }

// The states of a coarseClock's ticker.
const (
	tickerRunning int32 = iota // ticking, read since its last check
	tickerUnread               // ticking, not read since its last check
	tickerParked               // stopped until a reader wakes it
)

// coarseClock is the default clock of a Limiter: a reading of the monotonic
// clock (monoClock) that a ticker goroutine stores every res, so that a
// decision loads one atomic instead of asking the OS. It is a cell of its own,
// which the goroutine references and the Limiter points to (never the other
// way round): when the Limiter becomes unreachable, a cleanup attached to it
// closes done and the goroutine returns.
//
// Readings only move forward, and they trail the monotonic clock by at most
// res while the ticker gets CPU time (more when it does not), never lead it.
// A ticker that has not been read for parkAfter parks: it stops ticking and
// waits on wake, and the next reader, finding it parked, reads the monotonic
// clock itself, stores that reading and wakes it.
type coarseClock struct {
	ns    atomic.Int64 // latest reading, Unix nanoseconds
	state atomic.Int32 // tickerRunning, tickerUnread or tickerParked
	mono  monoClock
	res   time.Duration
	// checkEvery is the number of ticks between two checks for readers;
	// two checks without a reading in between park the ticker.
	checkEvery int
	wake       chan struct{} // one token per parked → running transition
	done       chan struct{} // closed when the Limiter is unreachable
}

// newCoarseClock returns a clock updated every res (at least
// minClockResolution) whose ticker parks after about parkAfter without a
// reading, and starts its goroutine, parked until the first reading. The
// caller must arrange for stop to be called.
func newCoarseClock(res, parkAfter time.Duration) *coarseClock {
	res = max(res, minClockResolution)
	c := &coarseClock{
		mono: newMonoClock(),
		res:  res,
		// Parked when unread for a whole check interval: after between
		// parkAfter and twice that without a reading.
		checkEvery: max(1, int(parkAfter/res)),
		wake:       make(chan struct{}, 1),
		done:       make(chan struct{}),
	}
	c.ns.Store(c.mono.read())
	c.state.Store(tickerParked)
	go c.run()
	return c
}

// now returns the clock's reading, in Unix nanoseconds.
func (c *coarseClock) now() int64 {
	if c.state.Load() != tickerRunning {
		return c.slowNow()
	}
	return c.ns.Load()
}

// slowNow is now when the ticker is not known to be running and read.
func (c *coarseClock) slowNow() int64 {
	for {
		switch c.state.Load() {
		case tickerRunning:
			return c.ns.Load()
		case tickerUnread:
			if c.state.CompareAndSwap(tickerUnread, tickerRunning) {
				return c.ns.Load()
			}
		default: // parked: the stored reading may be old
			// Store a fresh reading before the state says running, so that
			// whoever reads the cell once the state is running gets it.
			t := c.advance(c.mono.read())
			if c.state.CompareAndSwap(tickerParked, tickerRunning) {
				select {
				case c.wake <- struct{}{}:
				default:
				}
			}
			return t
		}
	}
}

// advance stores reading t unless the clock has a later one, and returns the
// reading it holds then: readings never go backwards, even when a reader and
// the ticker store at once.
func (c *coarseClock) advance(t int64) int64 {
	for {
		old := c.ns.Load()
		if t <= old {
			return old
		}
		if c.ns.CompareAndSwap(old, t) {
			return t
		}
	}
}

// run is the ticker goroutine. It returns when done is closed.
func (c *coarseClock) run() {
	// Parked until the first reading.
	select {
	case <-c.wake:
	case <-c.done:
		return
	}
	c.advance(c.mono.read())
	tick := time.NewTicker(c.res)
	defer tick.Stop()
	ticks := 0
	for {
		select {
		case <-c.done:
			return
		case <-tick.C:
		}
		c.advance(c.mono.read())
		if ticks++; ticks < c.checkEvery {
			continue
		}
		ticks = 0
		if c.state.CompareAndSwap(tickerRunning, tickerUnread) {
			continue // read since the last check; a reader sets it back
		}
		if !c.state.CompareAndSwap(tickerUnread, tickerParked) {
			continue // a reader set it running in between
		}
		tick.Stop()
		select {
		case <-c.wake: // sent by the reader that set it running
		case <-c.done:
			return
		}
		c.advance(c.mono.read())
		tick.Reset(c.res)
	}
}

// stop ends the ticker goroutine; it is the cleanup of the Limiter.
func (c *coarseClock) stop() { close(c.done) }
