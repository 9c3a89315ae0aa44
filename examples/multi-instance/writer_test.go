package main

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// adminWriter changes consumers writer-000 … writer-099 through the admin
// API of the instance at base, rate times a second, until stop: the
// benchmarks' load of admin writes.
type adminWriter struct {
	writes, failed atomic.Int64
	stop, done     chan struct{}
}

// startWriter starts writing; rate 0 writes nothing.
func startWriter(base string, rate int) *adminWriter {
	w := &adminWriter{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		if rate == 0 {
			return
		}
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
			name := fmt.Sprintf("writer-%03d", i%100)
			if !put(base+"/admin/api/consumers/"+name, fmt.Sprintf(`{"username":%q,"labels":{"n":"%d"}}`, name, i)) {
				w.failed.Add(1)
			}
			w.writes.Add(1)
		}
	}()
	return w
}

// Stop ends the writes and returns how many failed.
func (w *adminWriter) Stop() int64 {
	close(w.stop)
	<-w.done
	return w.failed.Load()
}

// put writes body to the admin API at url; for goroutines, which must not
// end the benchmark. It reports whether the write succeeded.
func put(url, body string) bool {
	req, err := http.NewRequest(http.MethodPut, url, strings.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-KEY", adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode < 300
}

// percentiles sorts lat and returns its quantiles qs in microseconds.
func percentiles(lat []time.Duration, qs ...float64) []float64 {
	slices.Sort(lat)
	out := make([]float64, len(qs))
	for i, q := range qs {
		out[i] = float64(lat[min(len(lat)-1, int(q*float64(len(lat))))]) / float64(time.Microsecond)
	}
	return out
}
