package main

import (
	"io"
	"net/http"
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
			w := startWriter(target, rate)
			time.Sleep(100 * time.Millisecond) // the writer is running
			var lat []time.Duration
			start, before := time.Now(), w.writes.Load()
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
			elapsed, during := time.Since(start), w.writes.Load()-before
			if failed := w.Stop(); failed > 0 {
				b.Fatalf("%d admin writes failed", failed)
			}
			p := percentiles(lat, 0.50, 0.99)
			b.ReportMetric(p[0], "p50-µs")
			b.ReportMetric(p[1], "p99-µs")
			if rate > 0 {
				b.ReportMetric(float64(during)/elapsed.Seconds(), "writes/s")
			}
		})
	}
}
