package gatehouse_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/credential/basicauth"
	"github.com/gatehousehq/gatehouse/route"
)

// BenchmarkUnauthenticatedFlood measures what a flood of wrong basic-auth
// passwords does to the other routes of a gateway: the latency (p50, p99) of
// key-auth requests sent one after the other by one client, alone and while
// 64 goroutines send wrong passwords to a basic-auth route as fast as they
// can, over real HTTP (httptest.NewServer) with bcrypt at its default cost.
// flood-distinct sends a new wrong password each time (nothing to remember);
// flood-repeated the same one per goroutine, each refused once before the
// measurement (the steady state); flood-no-password a header of another
// scheme, refused without bcrypt: the floor the flood's HTTP work alone sets.
// Flood clients run in the same process, so their own HTTP work competes for
// the CPU too.
func BenchmarkUnauthenticatedFlood(b *testing.B) {
	const flooders = 64
	f := newFixture(b, keyRoute("keys", `{}`),
		route.Route{ID: "pw", Plugins: map[string]json.RawMessage{basicauth.Name: json.RawMessage(`{}`)}})
	f.consumer(consumer.Consumer{Username: "alice"})
	f.key("alice", "k", benchKey(1))
	f.consumer(consumer.Consumer{Username: "bob"})
	sealed, err := basicauth.Definition{}.Seal(json.RawMessage(`{"username":"bob","password":"right"}`), nil) // cost 10
	if err != nil {
		b.Fatal(err)
	}
	_, _, err = f.st.PutCredential(context.Background(), "bob", "pw", func(*credential.Credential) (*credential.Credential, error) {
		return &credential.Credential{ID: "pw", Name: "pw", Enabled: true, Lookup: sealed.Lookup,
			Plugins: map[string]json.RawMessage{basicauth.Name: sealed.Stored}}, nil
	})
	if err != nil {
		b.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux := http.NewServeMux()
	mux.Handle("/keys", f.gw.Protect("keys", ok))
	mux.Handle("/pw", f.gw.Protect("pw", ok))
	basicHeader := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	eventually(b, mux, "/keys", map[string]string{"apikey": benchKey(1)}, http.StatusOK)
	eventually(b, mux, "/pw", map[string]string{"Authorization": basicHeader("bob", "right")}, http.StatusOK)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	send := func(c *http.Client, path, header, value string) (int, error) {
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if err != nil {
			return 0, err
		}
		req.Header.Set(header, value)
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode, nil
	}

	for _, tt := range []struct {
		name     string
		flood    bool
		distinct bool
		password bool
	}{
		{"alone", false, false, false},
		{"flood-distinct", true, true, true},
		{"flood-repeated", true, false, true},
		{"flood-no-password", true, false, false},
	} {
		b.Run(tt.name, func(b *testing.B) {
			var (
				stop    atomic.Bool
				wg      sync.WaitGroup
				got     atomic.Int64
				busy    atomic.Int64
				started = make(chan struct{})
				once    sync.Once
			)
			if tt.flood {
				tr := &http.Transport{MaxIdleConnsPerHost: flooders}
				defer tr.CloseIdleConnections()
				fc := &http.Client{Transport: tr}
				if !tt.distinct && tt.password {
					// Measure the steady state: each goroutine's pair was
					// refused once already (a 503 is not an answer: retry).
					for g := range flooders {
						for {
							status, err := send(fc, "/pw", "Authorization", basicHeader("bob", fmt.Sprintf("wrong-%d", g)))
							if err != nil {
								b.Fatal(err)
							}
							if status == http.StatusUnauthorized {
								break
							}
							time.Sleep(10 * time.Millisecond)
						}
					}
				}
				for g := range flooders {
					wg.Go(func() {
						for i := 0; !stop.Load(); i++ {
							pass := fmt.Sprintf("wrong-%d", g)
							if tt.distinct {
								pass = fmt.Sprintf("wrong-%d-%d", g, i)
							}
							authorization := basicHeader("bob", pass)
							if !tt.password {
								authorization = "Bearer " + pass
							}
							status, err := send(fc, "/pw", "Authorization", authorization)
							if err != nil {
								continue
							}
							got.Add(1)
							if status == http.StatusServiceUnavailable {
								busy.Add(1)
							}
							once.Do(func() { close(started) })
						}
					})
				}
				<-started // the flood is answering
			}
			tr := &http.Transport{MaxIdleConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			kc := &http.Client{Transport: tr}
			for range 20 { // warm the connection
				if status, err := send(kc, "/keys", "Apikey", benchKey(1)); err != nil || status != http.StatusOK {
					b.Fatalf("key-auth: %d %v", status, err)
				}
			}
			got.Store(0)
			busy.Store(0)
			var lat []time.Duration
			start := time.Now()
			for b.Loop() {
				t0 := time.Now()
				status, err := send(kc, "/keys", "Apikey", benchKey(1))
				lat = append(lat, time.Since(t0))
				if err != nil || status != http.StatusOK {
					b.Fatalf("key-auth: %d %v", status, err)
				}
			}
			elapsed := time.Since(start)
			flooded, refused := got.Load(), busy.Load()
			stop.Store(true)
			wg.Wait()
			slices.Sort(lat)
			us := func(q float64) float64 {
				return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))]) / float64(time.Microsecond)
			}
			b.ReportMetric(us(0.50), "p50-µs")
			b.ReportMetric(us(0.99), "p99-µs")
			if tt.flood {
				b.ReportMetric(float64(flooded)/elapsed.Seconds(), "flood-req/s")
				b.ReportMetric(100*float64(refused)/float64(max(flooded, 1)), "flood-503-%")
			}
		})
	}
}
