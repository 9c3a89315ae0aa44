package memory

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCoarseClockParksAndResumes checks that the ticker stops when nobody
// reads the clock (so an idle limiter costs no CPU), that the first reading
// after that is fresh, and that the ticker then runs again.
func TestCoarseClockParksAndResumes(t *testing.T) {
	c := newCoarseClock(time.Millisecond, 20*time.Millisecond)
	defer c.stop()
	before := c.mono.read()
	require.GreaterOrEqual(t, c.now(), before, "the first reading is fresh")
	require.Eventually(t, func() bool { return c.ns.Load() > before+int64(2*time.Millisecond) },
		time.Second, time.Millisecond, "the ticker runs once read")

	require.Eventually(t, func() bool { return c.state.Load() == tickerParked },
		2*time.Second, 5*time.Millisecond, "the ticker parks when not read")
	parked := c.ns.Load()
	time.Sleep(30 * time.Millisecond)
	require.Equal(t, parked, c.ns.Load(), "a parked ticker does not tick")

	before = c.mono.read()
	require.GreaterOrEqual(t, c.now(), before, "the reading that wakes the ticker is fresh")
	require.Eventually(t, func() bool { return c.ns.Load() > before+int64(2*time.Millisecond) },
		time.Second, time.Millisecond, "the ticker runs again")
}

// TestCoarseClockReadings checks, with two readers over a few hundred
// milliseconds, that readings never go backwards, never lead the monotonic
// clock and trail it (and time.Now) by little more than the resolution.
func TestCoarseClockReadings(t *testing.T) {
	const res = time.Millisecond
	// Slack for a scheduler delay of the ticker on a loaded machine; on a
	// quiet one the lag stays under the resolution plus a few microseconds.
	const slack = 50 * time.Millisecond
	c := newCoarseClock(res, time.Second)
	defer c.stop()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			last := int64(0)
			deadline := time.Now().Add(300 * time.Millisecond)
			for i := 0; time.Now().Before(deadline); i++ {
				before := c.mono.read()
				r := c.now()
				after := c.mono.read()
				wall := time.Now().UnixNano()
				require.GreaterOrEqual(t, r, last, "reading %d went backwards", i)
				require.LessOrEqual(t, r, after, "reading %d leads the monotonic clock", i)
				require.Less(t, before-r, int64(res+slack), "reading %d lags", i)
				require.Less(t, wall-r, int64(res+slack), "reading %d lags time.Now", i)
				last = r
				if i%64 == 0 {
					time.Sleep(50 * time.Microsecond)
				}
			}
		})
	}
	wg.Wait()
}
