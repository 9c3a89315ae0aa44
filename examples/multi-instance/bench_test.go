package main

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkDataPlaneUnderAdminWrites measures key-auth requests on instance
// B (latency p50 and p99, one client, over HTTP) while nothing changes, and
// while the admin API of instance A writes 100 consumer changes per second
// to the shared PostgreSQL, each of which B's view applies (consumers other
// than the caller: the realistic case). A control, elsewhere=100/s, makes
// the same writes through an instance of another deployment (its own
// schema): the same work for the machine, nothing for B to apply. The
// difference between the two is what applying changes costs B's requests;
// between quiet and elsewhere, what the machine's CPU being shared costs
// (client, both instances and PostgreSQL run on the same cores). Needs
// GATEHOUSE_TEST_POSTGRES and GATEHOUSE_TEST_REDIS.
func BenchmarkDataPlaneUnderAdminWrites(b *testing.B) {
	srv := cluster(b, 2, nil, nil, nil)
	a, bURL := srv[0].URL, srv[1].URL
	other := cluster(b, 1, nil, nil, nil)[0].URL
	key := newKey(b, a, "alice")
	for range 200 { // warm: B has the key, connections are open
		if status, _ := get(bURL+"/whoami", key); status == http.StatusOK {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	for _, tc := range []struct {
		name   string
		rate   int
		target string
	}{{"quiet", 0, ""}, {"writes=100/s", 100, a}, {"elsewhere=100/s", 100, other}} {
		rate, target := tc.rate, tc.target
		b.Run(tc.name, func(b *testing.B) {
			stop := make(chan struct{})
			done := make(chan struct{})
			var writes, failed atomic.Int64
			go func() {
				defer close(done)
				if rate == 0 {
					return
				}
				tick := time.NewTicker(time.Second / time.Duration(rate))
				defer tick.Stop()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					body := fmt.Sprintf(`{"username":"writer-%03d","labels":{"n":"%d"}}`, i%100, i)
					req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/admin/api/consumers/writer-%03d", target, i%100), strings.NewReader(body))
					req.Header.Set("X-API-KEY", adminKey)
					req.Header.Set("Content-Type", "application/json")
					resp, err := http.DefaultClient.Do(req)
					if err != nil || resp.StatusCode >= 300 {
						failed.Add(1)
					}
					if err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
					writes.Add(1)
				}
			}()
			time.Sleep(100 * time.Millisecond) // the writer is running
			var lat []time.Duration
			start, before := time.Now(), writes.Load()
			for b.Loop() {
				t0 := time.Now()
				req, _ := http.NewRequest(http.MethodGet, bURL+"/whoami", nil)
				req.Header.Set("apikey", key)
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat = append(lat, time.Since(t0))
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
			elapsed, during := time.Since(start), writes.Load()-before
			close(stop)
			<-done
			if failed.Load() > 0 {
				b.Fatalf("%d admin writes failed", failed.Load())
			}
			slices.Sort(lat)
			us := func(q float64) float64 {
				return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))]) / float64(time.Microsecond)
			}
			b.ReportMetric(us(0.50), "p50-µs")
			b.ReportMetric(us(0.99), "p99-µs")
			if rate > 0 {
				b.ReportMetric(float64(during)/elapsed.Seconds(), "writes/s")
			}
		})
	}
}
