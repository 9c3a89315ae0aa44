package basicauth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/gatehousehq/gatehouse/credential"
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

// On Linux each bcrypt comparison runs on a thread of the lowest scheduling
// priority (nice 19), which ends with it: ps shows it while it runs, and no
// thread is left at that priority afterwards.
func TestComparisonsRunAtLowestPriority(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("thread priorities are set on Linux only")
	}
	d := basicauth.Definition{Cost: bcrypt.MinCost, Limiter: basicauth.NewLimiter(1, basicauth.WithRefusalDelay(0))}
	p, err := d.New(nil)
	require.NoError(t, err)
	a := p.(*basicauth.Authenticator)
	// A slow hash, so that the comparison can be seen while it runs.
	sealed, err := basicauth.Definition{Cost: 13}.Seal([]byte(`{"username":"alice","password":"right"}`), nil)
	require.NoError(t, err)
	cr := &credential.Credential{ID: "pw", Enabled: true, Lookup: sealed.Lookup, Plugins: map[string]json.RawMessage{basicauth.Name: sealed.Stored}}
	hash, err := d.Compile(sealed.Stored)
	require.NoError(t, err)
	idx := credential.NewIndex()
	idx.Update(nil, []*credential.Match{{Credential: cr, Secret: hash}})

	before := lowestPriorityThreads(t)
	var wg sync.WaitGroup
	wg.Go(func() {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", basic("alice", "right"))
		m, err := a.Authenticate(r, idx)
		require.NoError(t, err)
		require.Same(t, cr, m.Credential)
	})
	seen := false
	for deadline := time.Now().Add(5 * time.Second); !seen && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		seen = lowestPriorityThreads(t) > before
	}
	wg.Wait()
	require.True(t, seen, "no thread at nice 19 while bcrypt ran")
	require.Eventually(t, func() bool { return lowestPriorityThreads(t) == before }, 5*time.Second, 10*time.Millisecond,
		"the thread ends with the comparison")
}

// lowestPriorityThreads counts the process's threads at nice 19.
func lowestPriorityThreads(t *testing.T) int {
	t.Helper()
	stats, err := filepath.Glob("/proc/self/task/*/stat")
	require.NoError(t, err)
	n := 0
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the thread ended
		}
		// Fields after the command name, which is in parentheses: state is
		// field 3, nice field 19.
		_, rest, ok := strings.Cut(string(b), ") ")
		require.True(t, ok)
		fields := strings.Fields(rest)
		if nice, err := strconv.Atoi(fields[19-3]); err == nil && nice == 19 {
			n++
		}
	}
	return n
}
