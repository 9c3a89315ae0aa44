package gatehouse

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"testing"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/credential/keyauth"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// BenchmarkApplyCredentialChange measures what one credential change costs an
// instance's view once the store has it: reading the credential back and
// updating the view (Gateway.apply), with 10 and with 1,000,000 consumers,
// each holding a key-auth credential. The cost must not grow with the number
// of consumers (APISIX rebuilds its whole index, apache/apisix#11840). The
// million case also reports the view's heap per credential (consumer and
// credential together), measured around the full load.
func BenchmarkApplyCredentialChange(b *testing.B) {
	for _, n := range []int{10, 1_000_000} {
		b.Run(fmt.Sprintf("consumers=%d", n), func(b *testing.B) {
			ctx := context.Background()
			st := memory.New()
			seal := func(key string) credential.Sealed {
				s, err := keyauth.Definition{}.Seal(json.RawMessage(`{"key":"`+key+`"}`), nil)
				if err != nil {
					b.Fatal(err)
				}
				return s
			}
			put := func(user string, s credential.Sealed) {
				_, _, err := st.PutCredential(ctx, user, "k", func(*credential.Credential) (*credential.Credential, error) {
					return &credential.Credential{ID: "k", Name: "main", Enabled: true, Lookup: s.Lookup,
						Plugins: map[string]json.RawMessage{keyauth.Name: s.Stored}}, nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			for i := range n {
				user := fmt.Sprintf("user-%07d", i)
				if _, _, err := st.PutConsumer(ctx, user, func(*consumer.Consumer) (*consumer.Consumer, error) {
					return &consumer.Consumer{Username: user, Labels: map[string]string{"tier": "free"}}, nil
				}); err != nil {
					b.Fatal(err)
				}
				put(user, seal(fmt.Sprintf("key-of-user-%07d", i)))
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			g, err := New(ctx, st, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
			if err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			_ = g.Close() // stop following the store: the benchmark applies changes itself

			const rotate = 64 // keys the changed consumer cycles through
			var keys [rotate]credential.Sealed
			for i := range keys {
				keys[i] = seal(fmt.Sprintf("rotated-key-%02d-of-user-0000007", i))
			}
			ch := store.Change{Kind: store.KindCredential, Consumer: "user-0000007", ID: "k"}
			i := 0
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				put(ch.Consumer, keys[i%rotate])
				i++
				b.StartTimer()
				g.syncMu.Lock()
				err := g.apply(ctx, ch)
				g.syncMu.Unlock()
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if _, ok := g.view.index.Find([]byte(keys[(i-1)%rotate].Lookup)); !ok {
				b.Fatal("the last rotated key is not in the view")
			}
			if n >= 1_000_000 { // after the loop: starting it resets reported metrics
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "view-B/credential")
			}
			runtime.KeepAlive(g)
		})
	}
}

// BenchmarkViewLoad measures building a new view from a snapshot of 100,000
// consumers, each with a key-auth credential and a plugin, as a gateway does
// at start: per credential, the time and the heap the view keeps
// (view-B/credential, after a GC) besides the snapshot's own objects.
func BenchmarkViewLoad(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	st := memory.New()
	for i := range n {
		user := fmt.Sprintf("user-%07d", i)
		if _, _, err := st.PutConsumer(ctx, user, func(*consumer.Consumer) (*consumer.Consumer, error) {
			return &consumer.Consumer{Username: user, Plugins: map[string]json.RawMessage{"limit-count": json.RawMessage(`{"count": 10, "time_window": 60}`)}}, nil
		}); err != nil {
			b.Fatal(err)
		}
		s, err := keyauth.Definition{}.Seal(json.RawMessage(fmt.Sprintf(`{"key":"key-of-user-%07d"}`, i)), nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := st.PutCredential(ctx, user, "k", func(*credential.Credential) (*credential.Credential, error) {
			return &credential.Credential{ID: "k", Name: "main", Enabled: true, Lookup: s.Lookup, AuthorizedEntities: []string{"group_g1"},
				Plugins: map[string]json.RawMessage{keyauth.Name: s.Stored}}, nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	g, err := New(ctx, memory.New(), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		b.Fatal(err)
	}
	_ = g.Close()
	snap, err := st.Snapshot(ctx)
	if err != nil {
		b.Fatal(err)
	}
	var kept float64
	b.ReportAllocs()
	for b.Loop() {
		v := newView(g.view.compile)
		var before, after runtime.MemStats
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		v.load(snap)
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		kept = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
		b.StartTimer()
		runtime.KeepAlive(v)
	}
	b.ReportMetric(kept, "view-B/credential")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/credential")
}
