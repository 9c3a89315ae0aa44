package gatehouse

import (
	"net/http"
	"strconv"
	"sync"
	"time"

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
	// Quotas appends the credential's quotas at now to buf.
	Quotas(now time.Time, buf []ratelimit.Quota) []ratelimit.Quota
}

// quotaScratch holds one request's quota arguments: pooled, because they pass
// through interface calls and would otherwise be allocated every time.
type quotaScratch struct {
	qs   [4]ratelimit.Quota
	used [4]int64
}

var quotaScratchPool = sync.Pool{New: func() any { return new(quotaScratch) }}

// chargeQuotas counts the request against the credential's quotas, all of
// them or none. When one is spent it answers 429 with Retry-After (seconds to
// the end of the spent window) and returns false; when the limiter fails it
// answers 500 (quotas fail closed) and returns false.
func (g *Gateway) chargeQuotas(w http.ResponseWriter, r *http.Request, q quotaHolder) bool {
	sc := quotaScratchPool.Get().(*quotaScratch)
	defer quotaScratchPool.Put(sc)
	now := g.now()
	qs := q.Quotas(now, sc.qs[:0])
	if len(qs) == 0 {
		return true
	}
	used := sc.used[:len(qs)]
	if len(qs) > len(sc.used) {
		used = make([]int64, len(qs))
	}
	ok, err := g.quotas.Consume(r.Context(), qs, 1, used)
	if err != nil {
		g.quotaOutage.Failed(r.Context(), g.log, "gatehouse: API-key quotas: limiter failing; requests refused until it recovers", "err", err)
		writeMessage(w, http.StatusInternalServerError, MsgQuotaUnavailable)
		return false
	}
	g.quotaOutage.Succeeded(r.Context(), g.log, "gatehouse: API-key quotas: limiter recovered")
	if ok {
		return true
	}
	var retry time.Duration
	for i, qt := range qs {
		if used[i]+1 > qt.Max {
			retry = max(retry, qt.End.Sub(now))
		}
	}
	secs := int64((retry + time.Second - 1) / time.Second)
	w.Header()["Retry-After"] = []string{strconv.FormatInt(max(secs, 1), 10)}
	writeMessage(w, http.StatusTooManyRequests, apikey.MsgQuota)
	return false
}
