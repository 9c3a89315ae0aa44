package plugin_test

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gatehousehq/gatehouse/plugin"
	"github.com/gatehousehq/gatehouse/validation"
)

// greeter is a tiny plugin definition: its settings must name someone to greet.
type greeter struct{ who string }

func (g greeter) Name() string { return "greeter" }

type greeterDef struct{}

func (greeterDef) Name() string        { return "greeter" }
func (greeterDef) Stage() plugin.Stage { return plugin.PreResponse }
func (greeterDef) Priority() int       { return 10 }
func (greeterDef) New(settings json.RawMessage) (plugin.Plugin, error) {
	var s struct {
		Who string `json:"who"`
	}
	if err := json.Unmarshal(settings, &s); err != nil {
		return nil, err
	}
	if s.Who == "" {
		return nil, validation.Field("who", "is required")
	}
	return greeter{who: s.Who}, nil
}

func ExampleRegistry() {
	r := plugin.NewRegistry(greeterDef{})
	fmt.Println(r.Names())

	p, err := r.New("greeter", json.RawMessage(`{"who":"world"}`))
	fmt.Println(p.(greeter).who, err)

	err = r.Validate("plugins", map[string]json.RawMessage{
		"greeter": json.RawMessage(`{}`),
		"missing": json.RawMessage(`{}`),
	})
	fmt.Println(err)
	fmt.Println(errors.Is(err, validation.ErrInvalid))

	_, err = r.New("missing", nil)
	fmt.Println(errors.Is(err, plugin.ErrUnknown))
	// Output:
	// [greeter]
	// world <nil>
	// invalid plugins.greeter.who: is required; plugins.missing: unknown plugin
	// true
	// true
}
