package admin_test

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// schemaChecker validates JSON values against the schemas of an OpenAPI 3.1
// document: the subset of JSON Schema 2020-12 the admin document uses. A
// keyword outside that subset is an error (knownKeywords), so that the
// document cannot say more than the tests check.
type schemaChecker struct {
	doc any
	// request is true when the checker validates request bodies, in which
	// a writeOnly property may appear; in a response it must not.
	request bool
}

// knownKeywords are the schema keywords the checker understands: the
// assertions it checks and the annotations it may ignore.
var knownKeywords = map[string]bool{
	// assertions
	"$ref": true, "type": true, "properties": true, "required": true, "additionalProperties": true,
	"items": true, "enum": true, "oneOf": true, "pattern": true, "minLength": true, "maxLength": true,
	"minimum": true, "maximum": true, "minItems": true, "maxItems": true, "uniqueItems": true,
	"format": true, "writeOnly": true,
	// annotations
	"description": true, "default": true, "readOnly": true, "title": true,
}

// parseJSON decodes data keeping numbers as json.Number, so that integers
// are told from other numbers.
func parseJSON(data []byte) (any, error) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("data after the JSON value")
	}
	return v, nil
}

// resolve returns the value a local reference ("#/components/schemas/X")
// points to.
func (c *schemaChecker) resolve(ref string) (any, error) {
	p, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, fmt.Errorf("$ref %q is not local", ref)
	}
	cur := c.doc
	if p == "" {
		return cur, nil
	}
	for _, tok := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[tok]
			if !ok {
				return nil, fmt.Errorf("$ref %q: no %q", ref, tok)
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(v) {
				return nil, fmt.Errorf("$ref %q: no index %q", ref, tok)
			}
			cur = v[i]
		default:
			return nil, fmt.Errorf("$ref %q: %q is inside a scalar", ref, tok)
		}
	}
	return cur, nil
}

// validateResponse checks v against schema as a response body: a property
// marked writeOnly must not appear.
func (c *schemaChecker) validateResponse(v any, schema map[string]any) error {
	rc := *c
	rc.request = false
	return rc.validate(v, schema, "$")
}

// validateRequest checks v against schema as a request body.
func (c *schemaChecker) validateRequest(v any, schema map[string]any) error {
	rc := *c
	rc.request = true
	return rc.validate(v, schema, "$")
}

func (c *schemaChecker) validate(v any, s map[string]any, at string) error {
	for k := range s {
		if !knownKeywords[k] {
			return fmt.Errorf("%s: the schema uses %q, which the checker does not know", at, k)
		}
	}
	if ref, ok := s["$ref"].(string); ok {
		target, err := c.resolve(ref)
		if err != nil {
			return err
		}
		ts, ok := target.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: $ref %q is not a schema", at, ref)
		}
		if err := c.validate(v, ts, at); err != nil {
			return err
		}
	}
	if t, ok := s["type"]; ok {
		var types []string
		switch tt := t.(type) {
		case string:
			types = []string{tt}
		case []any:
			for _, x := range tt {
				types = append(types, x.(string))
			}
		}
		if !slices.ContainsFunc(types, func(t string) bool { return hasType(v, t) }) {
			return fmt.Errorf("%s: %s is not of type %v", at, short(v), types)
		}
	}
	if enum, ok := s["enum"].([]any); ok {
		if !slices.ContainsFunc(enum, func(e any) bool { return jsonEqual(e, v) }) {
			return fmt.Errorf("%s: %s is not one of %v", at, short(v), enum)
		}
	}
	if alts, ok := s["oneOf"].([]any); ok {
		var matched []int
		var errs []string
		for i, a := range alts {
			if err := c.validate(v, a.(map[string]any), fmt.Sprintf("%s(oneOf %d)", at, i)); err != nil {
				errs = append(errs, err.Error())
			} else {
				matched = append(matched, i)
			}
		}
		if len(matched) != 1 {
			return fmt.Errorf("%s: %s matches %d of oneOf's schemas (%v), not exactly one; %s", at, short(v), len(matched), matched, strings.Join(errs, "; "))
		}
	}
	switch x := v.(type) {
	case string:
		return checkString(x, s, at)
	case json.Number:
		f, _ := x.Float64()
		if m, ok := number(s["minimum"]); ok && f < m {
			return fmt.Errorf("%s: %s is below the minimum %v", at, x, m)
		}
		if m, ok := number(s["maximum"]); ok && f > m {
			return fmt.Errorf("%s: %s is above the maximum %v", at, x, m)
		}
	case []any:
		if m, ok := number(s["minItems"]); ok && float64(len(x)) < m {
			return fmt.Errorf("%s: %d items, fewer than %v", at, len(x), m)
		}
		if m, ok := number(s["maxItems"]); ok && float64(len(x)) > m {
			return fmt.Errorf("%s: %d items, more than %v", at, len(x), m)
		}
		if u, _ := s["uniqueItems"].(bool); u {
			for i := range x {
				for j := range i {
					if jsonEqual(x[i], x[j]) {
						return fmt.Errorf("%s: items %d and %d are equal", at, j, i)
					}
				}
			}
		}
		if is, ok := s["items"].(map[string]any); ok {
			for i, it := range x {
				if err := c.validate(it, is, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		}
	case map[string]any:
		return c.checkObject(x, s, at)
	}
	return nil
}

func checkString(x string, s map[string]any, at string) error {
	n := float64(len([]rune(x)))
	if m, ok := number(s["minLength"]); ok && n < m {
		return fmt.Errorf("%s: %q is shorter than %v", at, x, m)
	}
	if m, ok := number(s["maxLength"]); ok && n > m {
		return fmt.Errorf("%s: %q is longer than %v", at, x, m)
	}
	if p, ok := s["pattern"].(string); ok {
		re, err := regexp.Compile(p)
		if err != nil {
			return fmt.Errorf("%s: pattern %q: %w", at, p, err)
		}
		if !re.MatchString(x) {
			return fmt.Errorf("%s: %q does not match %s", at, x, p)
		}
	}
	if f, _ := s["format"].(string); f == "date-time" {
		if _, err := time.Parse(time.RFC3339Nano, x); err != nil {
			return fmt.Errorf("%s: %q is not an RFC 3339 date-time", at, x)
		}
	}
	return nil
}

func (c *schemaChecker) checkObject(x map[string]any, s map[string]any, at string) error {
	props, _ := s["properties"].(map[string]any)
	if req, ok := s["required"].([]any); ok {
		for _, r := range req {
			if _, ok := x[r.(string)]; !ok {
				return fmt.Errorf("%s: the required property %q is missing from %s", at, r, short(x))
			}
		}
	}
	names := make([]string, 0, len(x))
	for k := range x {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		val := x[k]
		if ps, ok := props[k].(map[string]any); ok {
			if wo, _ := ps["writeOnly"].(bool); wo && !c.request {
				return fmt.Errorf("%s: the write-only property %q is in a response", at, k)
			}
			if err := c.validate(val, ps, at+"."+k); err != nil {
				return err
			}
			continue
		}
		switch ap := s["additionalProperties"].(type) {
		case bool:
			if !ap {
				return fmt.Errorf("%s: the property %q is not in the schema", at, k)
			}
		case map[string]any:
			if err := c.validate(val, ap, at+"."+k); err != nil {
				return err
			}
		}
	}
	return nil
}

func hasType(v any, t string) bool {
	switch t {
	case "null":
		return v == nil
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		if _, err := n.Int64(); err == nil {
			return true
		}
		f, err := n.Float64()
		return err == nil && f == math.Trunc(f)
	case "array":
		_, ok := v.([]any)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	}
	return false
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	}
	return 0, false
}

// jsonEqual compares two decoded JSON values, numbers by value.
func jsonEqual(a, b any) bool {
	na, aok := number(a)
	nb, bok := number(b)
	if aok || bok {
		return aok && bok && na == nb
	}
	return reflect.DeepEqual(a, b)
}

// short renders v for a message, cut to a readable length.
func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}
