package basicauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/credential/basicauth"
)

// A refused password check is answered once the refusal delay has passed,
// whatever refused it (a wrong password from bcrypt or from the failure
// table, an unknown user, a full limiter); a success is not delayed, and a
// client that goes away is let go at once.
func TestRefusalDelay(t *testing.T) {
	const delay = 300 * time.Millisecond
	l := basicauth.NewLimiter(1, basicauth.WithRefusalDelay(delay))
	require.Equal(t, delay, l.RefusalDelay())
	h := newHolder(l)
	e := newEnv(t, map[string]string{"r": `{}`}, l)
	e.consumer("alice")
	e.credential("alice", "pw", `{"username":"alice","password":"right"}`)
	e.refresh()

	timed := func(authorization string) (int, time.Duration) {
		start := time.Now()
		w := e.send("r", authorization)
		return w.Code, time.Since(start)
	}
	for _, tc := range []struct{ name, authorization string }{
		{"wrong password, bcrypt", basic("alice", "wrong")},
		{"wrong password, remembered", basic("alice", "wrong")},
		{"unknown user, bcrypt", basic("mallory", "guess")},
		{"unknown user, remembered", basic("mallory", "guess")},
	} {
		status, took := timed(tc.authorization)
		require.Equal(t, http.StatusUnauthorized, status, tc.name)
		require.GreaterOrEqual(t, took, delay, tc.name)
	}
	status, _ := timed(basic("alice", "right")) // bcrypt once
	require.Equal(t, http.StatusOK, status)
	status, took := timed(basic("alice", "right"))
	require.Equal(t, http.StatusOK, status)
	require.Less(t, took, delay, "a success is not delayed")

	// A full limiter's 503 waits as long, without waiting for the slot.
	h.armed.Store(true)
	go e.send("r", basic("alice", "held"))
	<-h.entered
	start := time.Now()
	w := e.send("r", basic("alice", "another"))
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.GreaterOrEqual(t, time.Since(start), delay)
	close(h.release)

	// A request whose client went away is not held for the delay.
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx)
	r.Header.Set("Authorization", basic("alice", "wrong"))
	time.AfterFunc(20*time.Millisecond, cancel)
	start = time.Now()
	rec := httptest.NewRecorder()
	e.gw.Protect("r", echo).ServeHTTP(rec, r)
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	require.Less(t, time.Since(start), delay)
}
