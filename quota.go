package gatehouse

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential/apikey"
	"github.com/gatehousehq/gatehouse/ratelimit"
)

// MsgQuotaUnavailable answers a request whose quotas cannot be counted
// because the limiter fails: quotas fail closed.
const MsgQuotaUnavailable = "quota check unavailable"

// quotaHolder is implemented by the compiled secrets (credential.Match.Secret)
// of credentials that carry quotas: apikey-auth keys.
type quotaHolder interface {
	// HasQuotas reports whether the credential has any quota to count.
	HasQuotas() bool
	// Quotas returns the credential's quota key and its quota windows at
	// now, which the caller must not modify.
	Quotas(now time.Time) (string, []ratelimit.QuotaWindow)
}

// quotaCounts holds the counts of one request's quota windows: pooled,
// because they pass through an interface call and would otherwise be
// allocated every time.
type quotaCounts [4]int64

var quotaCountsPool = sync.Pool{New: func() any { return new(quotaCounts) }}

// chargeQuotas counts the request against the credential's quotas, all of
// them or none. When one is spent it answers 429 with Retry-After (seconds to
// the end of the spent window) and returns false; when the limiter fails it
// answers 500 (quotas fail closed) and returns false.
func (g *Gateway) chargeQuotas(w http.ResponseWriter, r *http.Request, cr *compiledRoute, id *consumer.Identity, q quotaHolder, ob *observation) bool {
	now := g.now()
	key, ws := q.Quotas(now)
	if len(ws) == 0 {
		return true
	}
	counts := quotaCountsPool.Get().(*quotaCounts)
	defer quotaCountsPool.Put(counts)
	used := counts[:]
	if len(ws) > len(used) {
		used = make([]int64, len(ws))
	}
	used = used[:len(ws)]
	ctx := r.Context()
	ok, err := g.quotas.Consume(ctx, key, ws, 1, used)
	if err != nil {
		g.quotaOutage.Failed(ctx, g.log, "gatehouse: API-key quotas: limiter failing; requests refused until it recovers", "err", err)
		if g.obs != nil && ctx.Err() == nil {
			g.obs.ObserveLimiterError(ctx, cr.route.ID, err)
		}
		writeMessage(w, http.StatusInternalServerError, MsgQuotaUnavailable)
		g.refused(r, ob, cr.route.ID, id, http.StatusInternalServerError, MsgQuotaUnavailable)
		return false
	}
	g.quotaOutage.Succeeded(ctx, g.log, "gatehouse: API-key quotas: limiter recovered")
	if ok {
		return true
	}
	var retry time.Duration
	for i, win := range ws {
		if used[i]+1 > win.Max {
			retry = max(retry, win.End.Sub(now))
		}
	}
	secs := int64((retry + time.Second - 1) / time.Second)
	w.Header()["Retry-After"] = []string{strconv.FormatInt(max(secs, 1), 10)}
	writeMessage(w, http.StatusTooManyRequests, apikey.MsgQuota)
	g.refused(r, ob, cr.route.ID, id, http.StatusTooManyRequests, apikey.MsgQuota)
	return false
}
