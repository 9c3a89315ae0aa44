package plugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/gatehousehq/gatehouse/validation"
)

// ErrUnknown is returned for a plugin name that is not registered.
var ErrUnknown = errors.New("unknown plugin")

// Registry maps plugin names to their definitions. It is safe for concurrent
// use; definitions are normally registered once, at start.
type Registry struct {
	mu   sync.RWMutex
	defs map[string]Definition
}

// NewRegistry returns a registry holding defs.
func NewRegistry(defs ...Definition) *Registry {
	r := &Registry{defs: make(map[string]Definition)}
	for _, d := range defs {
		r.MustRegister(d)
	}
	return r
}

// Register adds d. A name can be registered once.
func (r *Registry) Register(d Definition) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.defs == nil {
		r.defs = make(map[string]Definition)
	}
	if _, dup := r.defs[d.Name()]; dup {
		return fmt.Errorf("plugin %q registered twice", d.Name())
	}
	r.defs[d.Name()] = d
	return nil
}

// MustRegister is Register that panics on a duplicate name.
func (r *Registry) MustRegister(d Definition) {
	if err := r.Register(d); err != nil {
		panic(err)
	}
}

// Lookup returns the definition registered under name.
func (r *Registry) Lookup(name string) (Definition, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	d, ok := r.defs[name]
	return d, ok
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.defs))
	for n := range r.defs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// New compiles the settings of the plugin registered under name.
func (r *Registry) New(name string, settings json.RawMessage) (Plugin, error) {
	d, ok := r.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknown, name)
	}
	if len(settings) == 0 {
		settings = json.RawMessage("{}")
	}
	return d.New(settings)
}

// Validate checks every plugin of a settings map (as found on a consumer or a
// route) and returns a *validation.Error naming each invalid one under
// field.<name>, for example "plugins.key-auth.header".
func (r *Registry) Validate(field string, plugins map[string]json.RawMessage) error {
	var e validation.Error
	for name, settings := range plugins {
		if _, ok := r.Lookup(name); !ok {
			e.Add(field+"."+name, "unknown plugin")
			continue
		}
		if _, err := r.New(name, settings); err != nil {
			e.Merge(field+"."+name, err)
		}
	}
	return e.Err()
}

// DecodeSettings decodes plugin settings strictly into v: unknown fields,
// values of the wrong type and data after the object are reported as a
// *validation.Error naming the setting, so that every plugin rejects bad
// settings the same way.
func DecodeSettings(raw json.RawMessage, v any) error {
	if len(raw) == 0 || string(raw) == "null" {
		raw = json.RawMessage("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return settingsError(err)
	}
	if dec.More() {
		return validation.Field("", "settings must be one JSON object")
	}
	return nil
}

// settingsError names the offending setting of a JSON decoding error.
func settingsError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return validation.Field(te.Field, "must be a "+te.Type.String())
		}
		return validation.Field("", "settings must be a JSON object")
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return validation.Field(strings.Trim(f, `"`), "unknown setting")
	}
	return validation.Field("", "settings are not valid JSON: "+err.Error())
}
