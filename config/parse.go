package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// LookupEnv is how Parse finds the value of ${NAME}: os.LookupEnv unless
// WithLookupEnv says otherwise.
type LookupEnv func(name string) (value string, ok bool)

// Parse reads a declarative file, YAML or JSON. Every string value may name
// environment variables as ${NAME} (letters, digits and _, not starting with
// a digit), replaced by their values; "$${" stands for a literal "${". An
// unset variable, an unknown field and a value of the wrong type are errors
// naming their path; Parse lists them all in a *ValidationError. Values are
// only decoded here: Validate and Apply check them.
func Parse(data []byte, opts ...Option) (*File, error) {
	cfg := newSettings(opts)
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, &ValidationError{Problems: []Problem{{Message: "not valid YAML or JSON: " + err.Error()}}}
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, &ValidationError{Problems: []Problem{{Message: "not valid YAML or JSON: " + err.Error()}}}
	}
	var p problems
	if tree == nil {
		return &File{}, nil // an empty file configures nothing
	}
	tree = expandTree(tree, "", cfg.lookup, &p)
	top, ok := tree.(map[string]any)
	if !ok {
		p.add("", "must be an object with the keys plugins, groups, consumer_groups, consumers and routes")
		return nil, p.err()
	}
	var f File
	for _, k := range sortedKeys(top) {
		v := top[k]
		switch k {
		case "plugins":
			decodeAt(v, k, &f.Plugins, &p)
		case "groups":
			f.Groups = decodeList[Group](v, k, &p, nil)
		case "consumer_groups":
			f.ConsumerGroups = decodeList[ConsumerGroup](v, k, &p, nil)
		case "routes":
			f.Routes = decodeList[Route](v, k, &p, nil)
		case "consumers":
			f.Consumers = decodeList(v, k, &p, func(obj map[string]any, path string, c *Consumer) map[string]any {
				// Credentials are decoded one by one, so that each error
				// names its credential.
				if creds, ok := obj["credentials"]; ok {
					c.Credentials = decodeList[Credential](creds, path+".credentials", &p, nil)
					rest := make(map[string]any, len(obj))
					for k, v := range obj {
						if k != "credentials" {
							rest[k] = v
						}
					}
					return rest
				}
				return obj
			})
		default:
			p.add(k, "unknown key: want plugins, groups, consumer_groups, consumers or routes")
		}
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return &f, nil
}

// ParseFile reads and parses the file at path (Parse).
func ParseFile(path string, opts ...Option) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, opts...)
}

// decodeList decodes v, a list, element by element into T; pre may take
// fields out of an element's object (decoded by itself) before the rest is
// decoded strictly into the element.
func decodeList[T any](v any, path string, p *problems, pre func(obj map[string]any, path string, t *T) map[string]any) []T {
	list, ok := v.([]any)
	if !ok {
		if v != nil {
			p.add(path, "must be a list")
		}
		return nil
	}
	out := make([]T, len(list))
	for i, el := range list {
		at := path + "[" + strconv.Itoa(i) + "]"
		obj, ok := el.(map[string]any)
		if !ok {
			p.add(at, "must be an object")
			continue
		}
		if pre != nil {
			obj = pre(obj, at, &out[i])
		}
		decodeAt(obj, at, &out[i], p)
	}
	return out
}

// decodeAt decodes v strictly into dst, recording an error under path.
func decodeAt(v any, path string, dst any, p *problems) {
	raw, err := json.Marshal(v)
	if err != nil {
		p.add(path, err.Error())
		return
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		field, why := decodeProblem(err)
		p.add(join(path, field), why)
	}
}

// decodeProblem turns a decoding error into the field it is about (relative)
// and a reason that never quotes the value.
func decodeProblem(err error) (field, why string) {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field, "must be " + kindOf(te.Type)
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return "", "unknown field " + f
	}
	var pe *time.ParseError
	if errors.As(err, &pe) {
		return "", "a time must be RFC 3339, such as 2030-01-31T00:00:00Z"
	}
	return "", "cannot be decoded: " + err.Error()
}

func kindOf(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string (quote it in YAML)"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 { // json.RawMessage
			return "a JSON value"
		}
		return "a list"
	case reflect.Map, reflect.Struct:
		if t.String() == "time.Time" {
			return "an RFC 3339 time"
		}
		return "an object"
	case reflect.Pointer:
		return kindOf(t.Elem())
	}
	return t.String()
}

// expandTree replaces ${NAME} in every string value of v (not in keys).
func expandTree(v any, path string, lookup LookupEnv, p *problems) any {
	switch x := v.(type) {
	case string:
		s, err := Expand(x, lookup)
		if err != nil {
			p.add(path, err.Error())
			return x
		}
		return s
	case []any:
		for i := range x {
			x[i] = expandTree(x[i], path+"["+strconv.Itoa(i)+"]", lookup, p)
		}
	case map[string]any:
		for _, k := range sortedKeys(x) {
			x[k] = expandTree(x[k], join(path, k), lookup, p)
		}
	}
	return v
}

// ErrUnsetVariable is matched (errors.Is) by the error of Expand for a
// variable that lookup does not know.
var ErrUnsetVariable = errors.New("environment variable is not set")

// Expand replaces every ${NAME} of s with lookup(NAME); "$${" stands for a
// literal "${", and any other "$" is kept. The error names the variable
// (never a value): an unset variable (matching ErrUnsetVariable), or a
// malformed reference.
func Expand(s string, lookup LookupEnv) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '$' { // "$${": a literal "${"
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return "", errors.New("${ without a closing }: write $${ for a literal ${")
		}
		name := s[i+2 : i+2+end]
		if !validVarName(name) {
			// The text is not echoed: it may be a secret that merely holds "${".
			return "", errors.New("a ${...} whose name is not letters, digits and _ (not starting with a digit): write $${ for a literal ${")
		}
		val, ok := lookup(name)
		if !ok {
			return "", fmt.Errorf("${%s}: %w", name, ErrUnsetVariable)
		}
		b.WriteString(val)
		s = s[i+2+end+1:]
	}
}

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

func join(path, field string) string {
	switch {
	case path == "":
		return field
	case field == "":
		return path
	case strings.HasPrefix(field, "["):
		return path + field
	}
	return path + "." + field
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
