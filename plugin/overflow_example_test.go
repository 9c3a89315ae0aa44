package plugin_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gatehousehq/gatehouse/plugin"
)

// banner appends a line to text responses. Skipping it on a response too
// large to buffer is harmless, so it lets such responses stream.
type banner struct{}

func (banner) Name() string    { return "banner" }
func (banner) NeedsBody() bool { return true }

func (banner) BodyOverflow() plugin.Overflow { return plugin.OverflowStream }

func (banner) PreResponse(_ *plugin.Call, res *plugin.Response) {
	if res.Overflowed() {
		res.Header().Set("X-Banner", "skipped")
		return
	}
	res.SetBody(append(bytes.Clone(res.Body()), "-- served by gatehouse\n"...))
}

func ExampleOverflowPolicy() {
	plan, err := plugin.NewPlan(plugin.Levels{
		Route: []plugin.Configured{{Plugin: banner{}, Stage: plugin.PreResponse}},
	}, plugin.WithMaxBufferedBody(16), plugin.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	for _, body := range []string{"short\n", strings.Repeat("long ", 10) + "\n"} {
		rec := httptest.NewRecorder()
		plan.Serve(rec, httptest.NewRequest(http.MethodGet, "/", nil), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, body)
		}), "files", nil)
		fmt.Printf("%d %q %q\n", rec.Code, rec.Header().Get("X-Banner"), rec.Body.String())
	}
	// Output:
	// 200 "" "short\n-- served by gatehouse\n"
	// 200 "skipped" "long long long long long long long long long long \n"
}
