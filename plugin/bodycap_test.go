package plugin_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/plugin"
)

const tooLarge = `{"error":"bad_gateway","message":"upstream response too large"}`

// streamer is a body-needing plugin that lets an oversized body stream.
type streamer struct{ *stagePlugin }

func (streamer) BodyOverflow() plugin.Overflow { return plugin.OverflowStream }

// bodySeen records what a body-needing PreResponse plugin was shown.
type bodySeen struct {
	ran, buffered, overflowed bool
	body                      string
}

// upper needs the body and upper-cases it; it records what it saw.
// bodyPlugin is upper, choosing OverflowStream when stream is set.
func bodyPlugin(stream bool, seen *bodySeen) plugin.Plugin {
	if stream {
		return streamer{upper("upper", seen)}
	}
	return upper("upper", seen)
}

func upper(name string, seen *bodySeen) *stagePlugin {
	return &stagePlugin{name: name, body: true, resp: func(c *plugin.Call, res *plugin.Response) {
		*seen = bodySeen{ran: true, buffered: res.Buffered(), overflowed: res.Overflowed(), body: string(res.Body())}
		res.Header().Set("X-Pre-Response", name)
		if c.Request().Method != http.MethodHead || res.Header().Get("X-Rewrite-Head") != "" {
			res.SetBody(bytes.ToUpper(res.Body())) // does nothing when Overflowed
		}
	}}
}

// writeChunks writes body in chunks of size n and checks after every write
// that the wrapper holds at most limit bytes, capacity included. It returns
// the first write error.
func writeChunks(t *testing.T, w http.ResponseWriter, body []byte, n, limit int) error {
	t.Helper()
	for len(body) > 0 {
		c := body[:min(n, len(body))]
		body = body[len(c):]
		if _, err := w.Write(c); err != nil {
			return err
		}
		held, capacity, ok := plugin.Held(w)
		require.True(t, ok)
		require.LessOrEqual(t, held, limit)
		require.LessOrEqual(t, capacity, limit, "the buffer never grows past the cap")
	}
	return nil
}

func TestBufferedBodyCap(t *testing.T) {
	const limit = 1024
	for _, tc := range []struct {
		name      string
		size      int
		chunk     int
		stream    bool
		status    int
		body      string // "" : the handler's body, upper-cased when seen
		overflows bool
	}{
		{name: "at the cap, one write", size: limit, chunk: limit, status: 200},
		{name: "at the cap, small writes", size: limit, chunk: 100, status: 200},
		{name: "one over, fail", size: limit + 1, chunk: limit + 1, status: 502, body: tooLarge},
		{name: "one over after the cap, fail", size: limit + 1, chunk: 100, status: 502, body: tooLarge},
		{name: "far over, fail", size: 64 * limit, chunk: 4096, status: 502, body: tooLarge},
		{name: "at the cap, stream policy", size: limit, chunk: 100, stream: true, status: 200},
		{name: "one over, stream", size: limit + 1, chunk: 100, stream: true, status: 200, overflows: true},
		{name: "far over, stream", size: 64 * limit, chunk: 4096, stream: true, status: 200, overflows: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen bodySeen
			var post struct {
				complete bool
				size     int64
			}
			var sent struct {
				status int
				size   int64
			}
			p := bodyPlugin(tc.stream, &seen)
			logs, log := newLog()
			plan := mustPlan(t, plugin.Levels{Route: []plugin.Configured{
				at(&stagePlugin{name: "usage", post: func(_ *plugin.Call, res *plugin.Response) {
					post.complete, post.size = res.Complete(), res.Size()
				}}, plugin.PostRequest, 0),
				at(p, plugin.PreResponse, 0),
				at(&stagePlugin{name: "log", after: func(_ *plugin.Call, res *plugin.Response) {
					sent.status, sent.size = res.Status(), res.Size()
				}}, plugin.PostResponse, 0),
			}}, plugin.WithMaxBufferedBody(limit), plugin.WithLogger(log))
			body := bytes.Repeat([]byte("a"), tc.size)
			var werr error
			rec := serve(plan, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				werr = writeChunks(t, w, body, tc.chunk, limit)
			}))
			require.Equal(t, tc.status, rec.Code)
			require.Equal(t, int64(rec.Body.Len()), sent.size)
			require.Equal(t, tc.status, sent.status)
			switch {
			case tc.status == http.StatusBadGateway:
				require.JSONEq(t, tooLarge, rec.Body.String())
				require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
				require.Empty(t, rec.Header().Get("X-Pre-Response"), "pre_response did not run")
				require.False(t, seen.ran)
				require.ErrorIs(t, werr, plugin.ErrResponseTooLarge)
				recs := logs.records(t)
				require.Len(t, recs, 1)
				require.Equal(t, "orders", recs[0]["route"])
				require.Equal(t, "upper", recs[0]["plugin"])
				require.Equal(t, "alice", recs[0]["consumer"])
				require.EqualValues(t, limit, recs[0]["max_buffered_body"])
			case tc.overflows:
				require.NoError(t, werr)
				require.Equal(t, string(body), rec.Body.String(), "sent unmodified, held bytes first")
				require.Equal(t, bodySeen{ran: true, overflowed: true}, seen, "told, without a body")
				require.Equal(t, "upper", rec.Header().Get("X-Pre-Response"), "headers still apply")
				require.False(t, post.complete)
				require.Empty(t, logs.records(t))
			default:
				require.NoError(t, werr)
				require.Equal(t, bodySeen{ran: true, buffered: true, body: string(body)}, seen, "the whole body")
				require.Equal(t, strings.ToUpper(string(body)), rec.Body.String())
				require.True(t, post.complete)
				require.Equal(t, int64(tc.size), post.size)
			}
		})
	}
}

// TestBufferedBodyCapMixedPolicies: the body streams only when every plugin
// that needs it chose OverflowStream; the first one that did not is logged.
func TestBufferedBodyCapMixedPolicies(t *testing.T) {
	var a, b, c bodySeen
	for _, tc := range []struct {
		name   string
		plugs  []plugin.Configured
		status int
		logged string
	}{
		{"stream and fail", []plugin.Configured{
			at(streamer{upper("a", &a)}, plugin.PreResponse, 0), at(upper("redact", &b), plugin.PreResponse, 1),
			at(upper("zz", &c), plugin.PreResponse, 2),
		}, http.StatusBadGateway, "redact"},
		{"both stream", []plugin.Configured{
			at(streamer{upper("a", &a)}, plugin.PreResponse, 0), at(streamer{upper("b", &b)}, plugin.PreResponse, 1),
		}, http.StatusOK, ""},
		{"a plugin without body does not count", []plugin.Configured{
			at(streamer{upper("a", &a)}, plugin.PreResponse, 0),
			at(&stagePlugin{name: "cors"}, plugin.PreResponse, 1),
		}, http.StatusOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs, log := newLog()
			plan := mustPlan(t, plugin.Levels{Route: tc.plugs}, plugin.WithMaxBufferedBody(8), plugin.WithLogger(log))
			rec := serve(plan, handlerOK(nil))
			require.Equal(t, len("hello"), rec.Body.Len())
			rec = serve(plan, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "123456789")
			}))
			require.Equal(t, tc.status, rec.Code)
			if tc.logged == "" {
				require.Equal(t, "123456789", rec.Body.String())
				require.Empty(t, logs.records(t))
				return
			}
			require.Equal(t, tc.logged, logs.records(t)[0]["plugin"])
		})
	}
}

func TestBufferedBodyCapDefault(t *testing.T) {
	for name, opts := range map[string][]plugin.PlanOption{
		"no option": nil,
		"zero":      {plugin.WithMaxBufferedBody(0)},
		"negative":  {plugin.WithMaxBufferedBody(-1)},
	} {
		t.Run(name, func(t *testing.T) {
			var seen bodySeen
			plan := mustPlan(t, plugin.Levels{Route: []plugin.Configured{at(upper("upper", &seen), plugin.PreResponse, 0)}},
				append(opts, plugin.WithLogger(discardLog))...)
			for _, n := range []int{plugin.DefaultMaxBufferedBody, plugin.DefaultMaxBufferedBody + 1} {
				body := bytes.Repeat([]byte("a"), n)
				rec := serve(plan, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) }))
				if n == plugin.DefaultMaxBufferedBody {
					require.Equal(t, http.StatusOK, rec.Code)
					require.Len(t, seen.body, n)
					continue
				}
				require.Equal(t, http.StatusBadGateway, rec.Code)
			}
		})
	}
}

// TestBufferedBodyCapContentLength: a Content-Length over the cap decides at
// once, before any byte is held; at the cap the body is buffered and a
// replaced body gets its own length; a HEAD response announces any length.
func TestBufferedBodyCapContentLength(t *testing.T) {
	const limit = 1024
	for _, tc := range []struct {
		name     string
		method   string
		length   int
		stream   bool
		status   int
		wantLen  int64
		wantBody string
	}{
		{"at the cap", http.MethodGet, limit, false, 200, limit, strings.Repeat("A", limit)},
		{"one over, fail", http.MethodGet, limit + 1, false, 502, int64(len(tooLarge) + 1), tooLarge + "\n"},
		{"one over, stream", http.MethodGet, limit + 1, true, 200, limit + 1, strings.Repeat("a", limit+1)},
		{"HEAD over the cap", http.MethodHead, 4 * limit, false, 200, 4 * limit, ""},
		{"HEAD, body replaced", http.MethodHead, 4 * limit, false, 200, -1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen bodySeen
			p := bodyPlugin(tc.stream, &seen)
			plan := mustPlan(t, plugin.Levels{Route: []plugin.Configured{at(p, plugin.PreResponse, 0)}},
				plugin.WithMaxBufferedBody(limit), plugin.WithLogger(discardLog))
			firstWrite := make(chan error, 1)
			srv := server(t, plan, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", strconv.Itoa(tc.length))
				if tc.wantLen < 0 {
					w.Header().Set("X-Rewrite-Head", "yes")
				}
				w.WriteHeader(http.StatusOK)
				if r.Method == http.MethodHead {
					firstWrite <- nil
					return
				}
				_, err := w.Write([]byte("a"))
				held, _, _ := plugin.Held(w)
				if tc.status == http.StatusBadGateway {
					require.Zero(t, held, "refused on the announced length: nothing held")
				}
				firstWrite <- err
				_, _ = w.Write(bytes.Repeat([]byte("a"), tc.length-1))
			}))
			req, err := http.NewRequest(tc.method, srv.URL, nil)
			require.NoError(t, err)
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			got := readAll(t, res)
			require.Equal(t, tc.status, res.StatusCode)
			require.Equal(t, tc.wantLen, res.ContentLength)
			require.Equal(t, tc.wantBody, got)
			err = <-firstWrite
			if tc.status == http.StatusBadGateway {
				require.ErrorIs(t, err, plugin.ErrResponseTooLarge)
			} else {
				require.NoError(t, err)
			}
			if tc.stream {
				require.True(t, seen.overflowed)
			}
		})
	}
}

// TestBufferedBodyCapStreaming: a flushing handler's body is held (flushes
// wait) until it outgrows the cap; then, with OverflowStream, the held bytes
// are sent and later flushes reach the client while the handler still runs.
// With the default policy the same handler gets a 502 and nothing of its
// body reaches the client.
func TestBufferedBodyCapStreaming(t *testing.T) {
	const limit = 64
	chunk := strings.Repeat("x", 40)
	for _, stream := range []bool{true, false} {
		t.Run("stream="+strconv.FormatBool(stream), func(t *testing.T) {
			var seen bodySeen
			p := bodyPlugin(stream, &seen)
			plan := mustPlan(t, plugin.Levels{Route: []plugin.Configured{at(p, plugin.PreResponse, 0)}},
				plugin.WithMaxBufferedBody(limit), plugin.WithLogger(discardLog))
			read := make(chan struct{})
			srv := server(t, plan, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rc := http.NewResponseController(w)
				for i := 0; i < 2; i++ { // 80 bytes: over the cap at the second write
					if _, err := io.WriteString(w, chunk); err != nil {
						return
					}
					_ = rc.Flush()
				}
				select {
				case <-read: // the client read the first 80 bytes while we wait
					_, _ = io.WriteString(w, "end")
				case <-time.After(5 * time.Second):
					_, _ = io.WriteString(w, "timeout")
				}
			}))
			res, err := http.Get(srv.URL)
			require.NoError(t, err)
			defer res.Body.Close()
			if !stream {
				close(read)
				require.Equal(t, http.StatusBadGateway, res.StatusCode)
				require.JSONEq(t, tooLarge, readAll(t, res))
				return
			}
			require.Equal(t, http.StatusOK, res.StatusCode)
			first := make([]byte, 2*len(chunk))
			_, err = io.ReadFull(bufio.NewReader(res.Body), first)
			require.NoError(t, err)
			require.Equal(t, chunk+chunk, string(first))
			close(read)
			rest, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			require.Equal(t, "end", string(rest))
			require.True(t, seen.overflowed)
		})
	}
}

// TestBufferedBodyCapBoundsMemory: 1 MiB written in 4 KiB writes through a
// plan capped at 64 KiB never makes the writer hold more than 64 KiB.
func TestBufferedBodyCapBoundsMemory(t *testing.T) {
	const limit = 64 << 10
	for _, stream := range []bool{false, true} {
		t.Run("stream="+strconv.FormatBool(stream), func(t *testing.T) {
			var seen bodySeen
			p := bodyPlugin(stream, &seen)
			plan := mustPlan(t, plugin.Levels{Route: []plugin.Configured{at(p, plugin.PreResponse, 0)}},
				plugin.WithMaxBufferedBody(limit), plugin.WithLogger(discardLog))
			body := bytes.Repeat([]byte("m"), 1<<20)
			var werr error
			rec := serve(plan, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				werr = writeChunks(t, w, body, 4<<10, limit)
			}))
			if stream {
				require.NoError(t, werr)
				require.Equal(t, len(body), rec.Body.Len())
				return
			}
			require.True(t, errors.Is(werr, plugin.ErrResponseTooLarge))
			require.Equal(t, http.StatusBadGateway, rec.Code)
		})
	}
}

var discardLog = slog.New(slog.DiscardHandler)
