package plugin_test

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/plugin"
)

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return string(b)
}

// server serves every request through p around h.
func server(t *testing.T, p *plugin.Plan, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.Serve(w, r, h, "stream", nil)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestServeStreamingStaysStreaming(t *testing.T) {
	var postSize int64
	var postComplete = true
	var afterSize int64
	plans := map[string]plugin.Levels{
		"PostRequest and PreResponse without body": {Route: []plugin.Configured{
			at(&stagePlugin{name: "usage", post: func(_ *plugin.Call, res *plugin.Response) {
				postSize, postComplete = res.Size(), res.Complete()
			}}, plugin.PostRequest, 0),
			at(&stagePlugin{name: "hdr", resp: func(_ *plugin.Call, res *plugin.Response) {
				res.Header().Set("X-Pre-Response", "yes")
			}}, plugin.PreResponse, 0),
			at(&stagePlugin{name: "log", after: func(_ *plugin.Call, res *plugin.Response) {
				afterSize = res.Size()
			}}, plugin.PostResponse, 0),
		}},
		"PreRequest headers and PostResponse": {Route: []plugin.Configured{
			at(&stagePlugin{name: "limit", pre: func(c *plugin.Call) { c.SetHeader("X-Pre-Response", "yes") }}, plugin.PreRequest, 0),
			at(&stagePlugin{name: "log", after: func(_ *plugin.Call, res *plugin.Response) {
				afterSize = res.Size()
			}}, plugin.PostResponse, 0),
		}},
	}
	for name, levels := range plans {
		t.Run(name, func(t *testing.T) {
			got := make(chan struct{})
			srv := server(t, mustPlan(t, levels), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				_, _ = io.WriteString(w, "data: first\n\n")
				require.NoError(t, http.NewResponseController(w).Flush())
				select {
				case <-got: // the client read the first event while we wait
					_, _ = io.WriteString(w, "data: second\n\n")
				case <-time.After(5 * time.Second):
					_, _ = io.WriteString(w, "data: timeout\n\n")
				}
			}))
			res, err := http.Get(srv.URL)
			require.NoError(t, err)
			defer res.Body.Close()
			require.Equal(t, "yes", res.Header.Get("X-Pre-Response"))
			br := bufio.NewReader(res.Body)
			line, err := br.ReadString('\n')
			require.NoError(t, err)
			require.Equal(t, "data: first\n", line)
			close(got)
			rest, err := io.ReadAll(br)
			require.NoError(t, err)
			require.Equal(t, "\ndata: second\n\n", string(rest))
			require.Equal(t, int64(len("data: first\n\ndata: second\n\n")), afterSize)
		})
	}
	require.Equal(t, int64(len("data: first\n\n")), postSize, "PostRequest ran at the flush")
	require.False(t, postComplete)
}

func TestServeBuffersWhenPreResponseNeedsBody(t *testing.T) {
	var seen string
	var lengths []int64
	upper := &stagePlugin{name: "upper", body: true, resp: func(c *plugin.Call, res *plugin.Response) {
		require.True(t, res.Buffered())
		seen = string(res.Body())
		res.SetBody(append(bytes.ToUpper(res.Body()), "!!"...))
		res.SetStatus(http.StatusAccepted)
		c.SetHeader("X-Rewritten", "yes")
	}}
	wrap := &stagePlugin{name: "wrap", body: true, resp: func(_ *plugin.Call, res *plugin.Response) {
		res.SetBody(append(append([]byte("["), res.Body()...), ']'))
	}}
	log := &stagePlugin{name: "log", after: func(_ *plugin.Call, res *plugin.Response) {
		lengths = append(lengths, res.Size(), int64(res.Status()))
	}}
	p := mustPlan(t, plugin.Levels{Route: []plugin.Configured{
		at(upper, plugin.PreResponse, 0), at(wrap, plugin.PreResponse, 1), at(log, plugin.PostResponse, 0),
	}})
	srv := server(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "11")
		_, _ = io.WriteString(w, "hello ")
		w.(http.Flusher).Flush() // held: the plugin needs the whole body
		_, _ = io.WriteString(w, "world")
	}))
	res, err := http.Get(srv.URL)
	require.NoError(t, err)
	body := readAll(t, res)
	require.Equal(t, "hello world", seen, "PreResponse saw the whole body, flush included")
	require.Equal(t, "[HELLO WORLD!!]", body)
	require.Equal(t, http.StatusAccepted, res.StatusCode)
	require.Equal(t, int64(len(body)), res.ContentLength)
	require.Equal(t, strconv.Itoa(len(body)), res.Header.Get("Content-Length"))
	require.Equal(t, "yes", res.Header.Get("X-Rewritten"))
	require.Equal(t, []int64{int64(len(body)), http.StatusAccepted}, lengths)
}

func TestServeBufferedBodyOnStatusWithoutBody(t *testing.T) {
	p := mustPlan(t, plugin.Levels{Route: []plugin.Configured{
		at(&stagePlugin{name: "nocontent", body: true, resp: func(_ *plugin.Call, res *plugin.Response) {
			res.SetStatus(http.StatusNoContent)
			res.SetBody([]byte("dropped"))
		}}, plugin.PreResponse, 0),
	}})
	srv := server(t, p, handlerOK(nil))
	res, err := http.Get(srv.URL)
	require.NoError(t, err)
	require.Empty(t, readAll(t, res))
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	require.Empty(t, res.Header.Get("Content-Length"))
}

func TestServeSetBodyWithoutNeedsBodyFails(t *testing.T) {
	logs, log := newLog()
	p := mustPlan(t, plugin.Levels{Route: []plugin.Configured{
		at(&stagePlugin{name: "sloppy", resp: func(_ *plugin.Call, res *plugin.Response) {
			require.Nil(t, res.Body())
			res.SetBody([]byte("x"))
		}}, plugin.PreResponse, 0),
	}}, plugin.WithLogger(log))
	rec := serve(p, handlerOK(nil))
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.Contains(t, logs.records(t)[0]["panic"], "NeedsBody")
}

func TestServeInformationalStatusPassesThrough(t *testing.T) {
	p := mustPlan(t, plugin.Levels{Route: []plugin.Configured{at(&stagePlugin{name: "usage"}, plugin.PostRequest, 0)}})
	var hints int
	srv := server(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</app.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		_, _ = io.WriteString(w, "ok")
	}))
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
			if code == http.StatusEarlyHints {
				hints++
			}
			return nil
		},
	}))
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, "ok", readAll(t, res))
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, 1, hints)
}

func TestServeHijackThroughWrappedWriter(t *testing.T) {
	statuses := make(chan int, 1)
	p := mustPlan(t, plugin.Levels{Route: []plugin.Configured{
		at(&stagePlugin{name: "usage"}, plugin.PostRequest, 0),
		at(&stagePlugin{name: "log", after: func(_ *plugin.Call, res *plugin.Response) { statuses <- res.Status() }}, plugin.PostResponse, 0),
	}})
	srv := server(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nhi")
		_ = brw.Flush()
	}))
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusSwitchingProtocols, res.StatusCode)
	b := make([]byte, 2)
	_, err = io.ReadFull(res.Body, b)
	require.NoError(t, err)
	require.Equal(t, "hi", string(b))
	require.Equal(t, http.StatusSwitchingProtocols, <-statuses)
}
