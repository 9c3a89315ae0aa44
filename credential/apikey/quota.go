package apikey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gatehousehq/gatehouse/ratelimit"
)

// MsgQuota is the message of API.md for a key whose quota is spent (429).
const MsgQuota = "You performed too much requests"

// ThrottlingWindow is the window of throttlingQuota: calls per 10 seconds,
// in windows aligned on the Unix epoch so that every instance agrees.
const ThrottlingWindow = 10 * time.Second

// quotaKind names the three quotas of a key, in the order they are counted.
type quotaKind uint8

const (
	throttling quotaKind = iota
	daily
	monthly
	quotaKinds
)

var quotaSuffix = [quotaKinds]string{":throttling", ":daily", ":monthly"}

// quotaKey returns the key under which the limiter counts one of clientID's
// quotas; kind is "throttling", "daily" or "monthly".
func quotaKey(clientID string, k quotaKind) string {
	return LookupPrefix + clientID + quotaSuffix[k]
}

func (k quotaKind) end(now time.Time) time.Time {
	switch k {
	case throttling:
		return ratelimit.WindowEnd(now, ThrottlingWindow)
	case daily:
		return ratelimit.DayEnd(now)
	default:
		return ratelimit.MonthEnd(now)
	}
}

// quotaSpec is one quota of a compiled key: its limiter key and allowance.
type quotaSpec struct {
	kind quotaKind
	key  string
	max  int64
}

// compileQuotas returns the quotas a key's settings set (nil ones are
// unlimited and not counted).
func compileQuotas(s *Settings) []quotaSpec {
	var out []quotaSpec
	for k, q := range [quotaKinds]*int64{s.ThrottlingQuota, s.DailyQuota, s.MonthlyQuota} {
		if q != nil {
			out = append(out, quotaSpec{kind: quotaKind(k), key: quotaKey(s.ClientID, quotaKind(k)), max: *q})
		}
	}
	return out
}

// HasQuotas reports whether the key has a quota to count (one of
// throttlingQuota, dailyQuota, monthlyQuota is set).
func (s *Secret) HasQuotas() bool { return len(s.quotas) > 0 }

// Quotas appends to buf the quotas of the key at now, with the windows they
// count in: per 10 s (aligned on the epoch), the calendar day and the
// calendar month in UTC. A key without quotas appends nothing. The gateway
// charges them with a ratelimit.QuotaCounter after authorization, and answers
// 429 MsgQuota when one is spent.
func (s *Secret) Quotas(now time.Time, buf []ratelimit.Quota) []ratelimit.Quota {
	for _, q := range s.quotas {
		buf = append(buf, ratelimit.Quota{Key: q.key, Max: q.max, End: q.kind.end(now)})
	}
	return buf
}

// QuotaState is a key's quota usage as GET /api/apikeys/{clientId}/quotas
// shows it, in Otoroshi's field names. The "PerSec" fields are those of
// throttlingQuota, counted per 10-second window as Otoroshi does. A quota that
// is not set (unlimited) is null in all three of its fields.
type QuotaState struct {
	AuthorizedCallsPerSec   *int64 `json:"authorizedCallsPerSec"`
	CurrentCallsPerSec      *int64 `json:"currentCallsPerSec"`
	RemainingCallsPerSec    *int64 `json:"remainingCallsPerSec"`
	AuthorizedCallsPerDay   *int64 `json:"authorizedCallsPerDay"`
	CurrentCallsPerDay      *int64 `json:"currentCallsPerDay"`
	RemainingCallsPerDay    *int64 `json:"remainingCallsPerDay"`
	AuthorizedCallsPerMonth *int64 `json:"authorizedCallsPerMonth"`
	CurrentCallsPerMonth    *int64 `json:"currentCallsPerMonth"`
	RemainingCallsPerMonth  *int64 `json:"remainingCallsPerMonth"`
}

// ErrNoQuotaCounter is returned when quotas are read or reset without a
// limiter that keeps them (ratelimit.QuotaCounter).
var ErrNoQuotaCounter = errors.New("apikey-auth: the limiter does not keep quotas (ratelimit.QuotaCounter)")

// ReadQuotas reads, without charging, the quota usage of the key whose
// stored settings are raw (a credential's plugins["apikey-auth"]).
func ReadQuotas(ctx context.Context, qc ratelimit.QuotaCounter, raw json.RawMessage, now time.Time) (QuotaState, error) {
	var st stored
	if err := json.Unmarshal(raw, &st); err != nil {
		return QuotaState{}, fmt.Errorf("apikey-auth: stored settings: %w", err)
	}
	if qc == nil {
		return QuotaState{}, ErrNoQuotaCounter
	}
	sec := Secret{quotas: compileQuotas(&st.Settings)}
	var qbuf [quotaKinds]ratelimit.Quota
	var used [quotaKinds]int64
	qs := sec.Quotas(now, qbuf[:0])
	if _, err := qc.Consume(ctx, qs, 0, used[:len(qs)]); err != nil {
		return QuotaState{}, fmt.Errorf("apikey-auth: read quotas of clientId %q: %w", st.ClientID, err)
	}
	var out QuotaState
	fields := [quotaKinds][3]**int64{
		{&out.AuthorizedCallsPerSec, &out.CurrentCallsPerSec, &out.RemainingCallsPerSec},
		{&out.AuthorizedCallsPerDay, &out.CurrentCallsPerDay, &out.RemainingCallsPerDay},
		{&out.AuthorizedCallsPerMonth, &out.CurrentCallsPerMonth, &out.RemainingCallsPerMonth},
	}
	for i, q := range sec.quotas {
		authorized, current, remaining := q.max, used[i], max(q.max-used[i], 0)
		f := fields[q.kind]
		*f[0], *f[1], *f[2] = &authorized, &current, &remaining
	}
	return out, nil
}

// ResetQuotas forgets every quota count of clientID: its next request has
// its whole throttling, daily and monthly allowance.
func ResetQuotas(ctx context.Context, qc ratelimit.QuotaCounter, clientID string) error {
	if qc == nil {
		return ErrNoQuotaCounter
	}
	for k := range quotaKinds {
		if err := qc.ResetQuota(ctx, quotaKey(clientID, k)); err != nil {
			return fmt.Errorf("apikey-auth: reset quotas of clientId %q: %w", clientID, err)
		}
	}
	return nil
}
