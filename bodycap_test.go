package gatehouse_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// upperDef is a pre_response plugin that upper-cases response bodies.
type upperDef struct{}

func (upperDef) Name() string        { return "upper" }
func (upperDef) Stage() plugin.Stage { return plugin.PreResponse }
func (upperDef) Priority() int       { return 0 }
func (upperDef) New(json.RawMessage) (plugin.Plugin, error) {
	return upperPlugin{}, nil
}

type upperPlugin struct{}

func (upperPlugin) Name() string    { return "upper" }
func (upperPlugin) NeedsBody() bool { return true }
func (upperPlugin) PreResponse(_ *plugin.Call, res *plugin.Response) {
	res.SetBody(bytes.ToUpper(res.Body()))
}

// TestWithMaxBufferedBody: the gateway's cap reaches the plans it builds;
// without the option the plugin package's default applies.
func TestWithMaxBufferedBody(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  []gatehouse.Option
		limit int
	}{
		{"default", nil, plugin.DefaultMaxBufferedBody},
		{"1 KiB", []gatehouse.Option{gatehouse.WithMaxBufferedBody(1024)}, 1024},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]gatehouse.Option{
				gatehouse.WithLogger(discardLogger()),
				gatehouse.WithPlugins(upperDef{}),
				gatehouse.WithRoutes(route.Route{ID: "files", Plugins: map[string]json.RawMessage{"upper": json.RawMessage(`{}`)}}),
			}, tc.opts...)
			gw, err := gatehouse.New(context.Background(), memory.New(), opts...)
			require.NoError(t, err)
			t.Cleanup(func() { _ = gw.Close() })
			for _, n := range []int{tc.limit, tc.limit + 1} {
				body := bytes.Repeat([]byte("a"), n)
				h := gw.Protect("files", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) }))
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
				if n == tc.limit {
					require.Equal(t, http.StatusOK, w.Code, strconv.Itoa(n))
					require.Equal(t, bytes.ToUpper(body), w.Body.Bytes())
					continue
				}
				require.Equal(t, http.StatusBadGateway, w.Code, strconv.Itoa(n))
			}
		})
	}
}
