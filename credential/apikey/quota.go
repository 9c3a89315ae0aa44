package apikey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
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

// quotaWindowNames name a key's windows in the limiter
// (ratelimit.QuotaWindow.Name).
var quotaWindowNames = [quotaKinds]string{"throttling", "daily", "monthly"}

// quotaKey returns the key under which the limiter counts clientID's quota
// windows.
func quotaKey(clientID string) string { return LookupPrefix + clientID }

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

// quotaSpec is one quota of a compiled key.
type quotaSpec struct {
	kind quotaKind
	max  int64
}

// quotaSet is the quotas of a compiled key, with the windows they counted in
// last.
type quotaSet struct {
	key   string // quotaKey
	specs []quotaSpec
	// last holds the windows of one ThrottlingWindow-long period: every End
	// (10 s, midnight, the first of a month) is a multiple of 10 s after the
	// epoch, so none changes within it. Requests share it, read-only.
	last atomic.Pointer[quotaWindows]
}

// quotaWindows is a key's windows for the times in [from, from+ThrottlingWindow)
// (Unix ns).
type quotaWindows struct {
	from    int64
	windows []ratelimit.QuotaWindow
}

// compileQuotas returns the quotas a key's settings set (nil ones are
// unlimited and not counted), or nil when none is.
func compileQuotas(s *Settings) *quotaSet {
	var specs []quotaSpec
	for k, q := range [quotaKinds]*int64{s.ThrottlingQuota, s.DailyQuota, s.MonthlyQuota} {
		if q != nil {
			specs = append(specs, quotaSpec{kind: quotaKind(k), max: *q})
		}
	}
	if specs == nil {
		return nil
	}
	return &quotaSet{key: quotaKey(s.ClientID), specs: specs}
}

// HasQuotas reports whether the key has a quota to count (one of
// throttlingQuota, dailyQuota, monthlyQuota is set).
func (s *Secret) HasQuotas() bool { return s.quotas != nil }

// Quotas returns the key under which the limiter counts the API key's
// quotas and their windows at now, named "throttling", "daily" and
// "monthly": per 10 s (aligned on the epoch), the calendar day and the
// calendar month in UTC, in that order, unset quotas left out. A key without
// quotas returns "" and nil. The windows are shared with other callers: they
// must not be modified. The gateway charges them together with a
// ratelimit.QuotaCounter after authorization, and answers 429 MsgQuota when
// one is spent.
func (s *Secret) Quotas(now time.Time) (string, []ratelimit.QuotaWindow) {
	q := s.quotas
	if q == nil {
		return "", nil
	}
	ns := now.UnixNano()
	if w := q.last.Load(); w != nil && w.from <= ns && ns-w.from < int64(ThrottlingWindow) {
		return q.key, w.windows
	}
	w := &quotaWindows{
		from:    ratelimit.WindowEnd(now, ThrottlingWindow).UnixNano() - int64(ThrottlingWindow),
		windows: make([]ratelimit.QuotaWindow, len(q.specs)),
	}
	for i, sp := range q.specs {
		w.windows[i] = ratelimit.QuotaWindow{Name: quotaWindowNames[sp.kind], Max: sp.max, End: sp.kind.end(now)}
	}
	q.last.Store(w)
	return q.key, w.windows
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
	var out QuotaState
	qs := compileQuotas(&st.Settings)
	if qs == nil {
		return out, nil // no quota: every field null
	}
	sec := Secret{quotas: qs}
	var used [quotaKinds]int64
	key, ws := sec.Quotas(now)
	if _, err := qc.Consume(ctx, key, ws, 0, used[:len(ws)]); err != nil {
		return QuotaState{}, fmt.Errorf("apikey-auth: read quotas of clientId %q: %w", st.ClientID, err)
	}
	fields := [quotaKinds][3]**int64{
		{&out.AuthorizedCallsPerSec, &out.CurrentCallsPerSec, &out.RemainingCallsPerSec},
		{&out.AuthorizedCallsPerDay, &out.CurrentCallsPerDay, &out.RemainingCallsPerDay},
		{&out.AuthorizedCallsPerMonth, &out.CurrentCallsPerMonth, &out.RemainingCallsPerMonth},
	}
	for i, sp := range qs.specs {
		authorized, current, remaining := sp.max, used[i], max(sp.max-used[i], 0)
		f := fields[sp.kind]
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
	if err := qc.ResetQuota(ctx, quotaKey(clientID)); err != nil {
		return fmt.Errorf("apikey-auth: reset quotas of clientId %q: %w", clientID, err)
	}
	return nil
}
