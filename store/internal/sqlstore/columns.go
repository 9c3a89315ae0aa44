package sqlstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
)

// Consumers and credentials are kept in columns, not in a JSON document:
// a Snapshot of a million credentials then decodes no JSON but their plugin
// settings (see decodePlugins). This file turns those objects into column
// values and rows read back into objects.

// formats tells the decoders how a row's boolean and time values are
// encoded: as database/sql hands them over (text: "1", "true",
// RFC 3339), or in a back-end's binary form (see Dialect.RawRows).
type formats struct {
	boolean func([]byte) (bool, error)
	instant func([]byte) (time.Time, error)
	// checked: JSON values are valid (the database checked them).
	checked bool
	// batch, when not nil, is where a scan of many rows allocates.
	batch *batch
}

// batch holds what the decoders of one scan of many rows share: the
// plugin names seen (each name is one string for the whole scan) and chunks
// of consumers and credentials handed out one by one (one allocation for
// up to 128 objects instead of one each; a chunk is freed once all of its
// objects are unreferenced).
type batch struct {
	names       map[string]string
	consumers   []consumer.Consumer
	credentials []credential.Credential
	n           int // objects in the chunks so far
}

// chunk is the size of the next chunk: as many objects as the chunks so far
// held (a list of a few objects allocates little), from 4 to 128.
func (b *batch) chunk() int {
	size := min(128, max(4, b.n))
	b.n += size
	return size
}

func newBatch() *batch { return &batch{names: map[string]string{}} }

func (f formats) name(b []byte) string {
	if f.batch == nil {
		return string(b)
	}
	if s, ok := f.batch.names[string(b)]; ok {
		return s
	}
	s := string(b)
	f.batch.names[s] = s
	return s
}

func (f formats) newCredential() *credential.Credential {
	if f.batch == nil {
		return new(credential.Credential)
	}
	if len(f.batch.credentials) == 0 {
		f.batch.credentials = make([]credential.Credential, f.batch.chunk())
	}
	c := &f.batch.credentials[0]
	f.batch.credentials = f.batch.credentials[1:]
	return c
}

func (f formats) newConsumer() *consumer.Consumer {
	if f.batch == nil {
		return new(consumer.Consumer)
	}
	if len(f.batch.consumers) == 0 {
		f.batch.consumers = make([]consumer.Consumer, f.batch.chunk())
	}
	c := &f.batch.consumers[0]
	f.batch.consumers = f.batch.consumers[1:]
	return c
}

// formats are the forms of the rows database/sql returns, or of the raw
// rows of Dialect.ReadRaw.
func (d *Dialect) formats(raw bool) formats {
	f := textFormats
	if raw {
		f.boolean, f.instant = d.RawBool, d.RawTime
	}
	f.checked = d.JSONChecked
	return f
}

// textFormats are the values database/sql converts into bytes.
var textFormats = formats{
	boolean: func(b []byte) (bool, error) { return strconv.ParseBool(string(b)) },
	instant: func(b []byte) (time.Time, error) {
		t, err := time.Parse(time.RFC3339Nano, string(b))
		return t.UTC(), err
	},
}

// timeValue is t as the dialect writes it into a time column.
func (d *Dialect) timeValue(t time.Time) any {
	t = normTime(t)
	if d.TimeText {
		return t.Format(time.RFC3339Nano)
	}
	return t
}

// jsonValue is b as a JSON column's parameter; nil is NULL.
func jsonValue(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// entitiesText joins a credential's authorized entities for its entities
// column: separated by spaces, or, when an entry is empty or holds a space
// or a '[' (never so in a valid entity), as a JSON array. No entry: "".
func entitiesText(ents []string) (string, error) {
	plain := true
	for _, e := range ents {
		if e == "" || strings.ContainsAny(e, " [") {
			plain = false
			break
		}
	}
	if plain {
		return strings.Join(ents, " "), nil
	}
	b, err := encode(ents)
	return string(b), err
}

// splitEntities is the inverse of entitiesText, on s (a substring of the
// row's one string: the entries share it).
func splitEntities(s string) ([]string, error) {
	switch {
	case s == "":
		return nil, nil
	case s[0] == '[':
		var out []string
		err := json.Unmarshal([]byte(s), &out)
		return out, err
	}
	n := strings.Count(s, " ") + 1
	out := make([]string, 0, n)
	for {
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			return append(out, s), nil
		}
		out = append(out, s[:i])
		s = s[i+1:]
	}
}

// rowStrings copies the given columns of a row into one string and returns
// them as its substrings: one allocation for all the text of an object.
func rowStrings(row [][]byte, cols ...int) []string {
	n := 0
	for _, c := range cols {
		n += len(row[c])
	}
	var b strings.Builder
	b.Grow(n)
	for _, c := range cols {
		b.Write(row[c])
	}
	all := b.String()
	out := make([]string, len(cols))
	off := 0
	for i, c := range cols {
		out[i] = all[off : off+len(row[c])]
		off += len(row[c])
	}
	return out
}

// credentialCols are a credential's columns besides its keys (consumer,
// id), in the order credentialVals and decodeCredential use.
var credentialCols = []string{"lookup", "name", "consumer_group", "enabled", "expires_at",
	"created_at", "updated_at", "entities", "plugins"}

func credentialVals(d *Dialect, c *credential.Credential) ([]any, error) {
	ents, err := entitiesText(c.AuthorizedEntities)
	if err != nil {
		return nil, err
	}
	var expires any
	if c.ExpiresAt != nil {
		expires = d.timeValue(*c.ExpiresAt)
	}
	var plugins []byte
	if c.Plugins != nil {
		if plugins, err = encode(c.Plugins); err != nil {
			return nil, err
		}
	}
	return []any{c.Lookup, c.Name, c.ConsumerGroup, c.Enabled, expires,
		d.timeValue(c.CreatedAt), d.timeValue(c.UpdatedAt), ents, jsonValue(plugins)}, nil
}

// decodeCredential builds a credential from a row of consumer, id and
// credentialCols.
func decodeCredential(f formats, row [][]byte) (*credential.Credential, error) {
	s := rowStrings(row, 0, 1, 2, 3, 4, 9)
	c := f.newCredential()
	c.Consumer, c.ID, c.Lookup, c.Name, c.ConsumerGroup = s[0], s[1], s[2], s[3], s[4]
	var err error
	if c.Enabled, err = f.boolean(row[5]); err != nil {
		return nil, fmt.Errorf("enabled: %w", err)
	}
	if row[6] != nil {
		t, err := f.instant(row[6])
		if err != nil {
			return nil, fmt.Errorf("expires_at: %w", err)
		}
		c.ExpiresAt = &t
	}
	if c.CreatedAt, err = f.instant(row[7]); err != nil {
		return nil, fmt.Errorf("created_at: %w", err)
	}
	if c.UpdatedAt, err = f.instant(row[8]); err != nil {
		return nil, fmt.Errorf("updated_at: %w", err)
	}
	if c.AuthorizedEntities, err = splitEntities(s[5]); err != nil {
		return nil, fmt.Errorf("entities: %w", err)
	}
	if c.Plugins, err = decodePlugins(row[10], f); err != nil {
		return nil, fmt.Errorf("plugins: %w", err)
	}
	return c, nil
}

// consumerCols are a consumer's columns besides its username, in the order
// consumerVals and decodeConsumer use.
var consumerCols = []string{"description", "group_id", "created_at", "updated_at", "labels", "plugins"}

func consumerVals(d *Dialect, c *consumer.Consumer) ([]any, error) {
	var labels, plugins []byte
	var err error
	if len(c.Labels) > 0 {
		if labels, err = encode(c.Labels); err != nil {
			return nil, err
		}
	}
	if len(c.Plugins) > 0 {
		if plugins, err = encode(c.Plugins); err != nil {
			return nil, err
		}
	}
	return []any{c.Desc, c.GroupID, d.timeValue(c.CreatedAt), d.timeValue(c.UpdatedAt),
		jsonValue(labels), jsonValue(plugins)}, nil
}

// decodeConsumer builds a consumer from a row of username and consumerCols.
func decodeConsumer(f formats, row [][]byte) (*consumer.Consumer, error) {
	s := rowStrings(row, 0, 1, 2)
	c := f.newConsumer()
	c.Username, c.Desc, c.GroupID = s[0], s[1], s[2]
	var err error
	if c.CreatedAt, err = f.instant(row[3]); err != nil {
		return nil, fmt.Errorf("created_at: %w", err)
	}
	if c.UpdatedAt, err = f.instant(row[4]); err != nil {
		return nil, fmt.Errorf("updated_at: %w", err)
	}
	if l := row[5]; l != nil && !bytes.Equal(l, []byte("null")) {
		if err := json.Unmarshal(l, &c.Labels); err != nil {
			return nil, fmt.Errorf("labels: %w", err)
		}
		if len(c.Labels) == 0 {
			c.Labels = nil
		}
	}
	if c.Plugins, err = decodePlugins(row[6], f); err != nil {
		return nil, fmt.Errorf("plugins: %w", err)
	}
	if len(c.Plugins) == 0 {
		c.Plugins = nil
	}
	return c, nil
}

var errBadObject = errors.New("not a JSON object of plugin settings")

// decodePlugins decodes a JSON object of plugin settings (NULL, "" and null:
// nil) without encoding/json's reflection: each value is kept as it is, a
// slice of one copy of b. The text must be valid JSON (json.Valid checks it
// first, unless checked says the database did); it is split by a scan that
// tracks strings and nesting. Names with escapes go through encoding/json.
func decodePlugins(b []byte, f formats) (map[string]json.RawMessage, error) {
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return nil, nil
	}
	if !f.checked && !json.Valid(b) {
		return nil, errBadObject
	}
	buf := bytes.Clone(b)
	i := skipSpace(buf, 0)
	if i >= len(buf) || buf[i] != '{' {
		return nil, errBadObject
	}
	out := make(map[string]json.RawMessage, 1)
	i = skipSpace(buf, i+1)
	if i < len(buf) && buf[i] == '}' {
		return out, nil
	}
	for {
		if i >= len(buf) || buf[i] != '"' {
			return nil, errBadObject
		}
		end := skipString(buf, i)
		if end < 0 {
			return nil, errBadObject
		}
		var name string
		if bytes.IndexByte(buf[i:end], '\\') >= 0 {
			if err := json.Unmarshal(buf[i:end], &name); err != nil {
				return nil, err
			}
		} else {
			name = f.name(buf[i+1 : end-1])
		}
		i = skipSpace(buf, end)
		if i >= len(buf) || buf[i] != ':' {
			return nil, errBadObject
		}
		start := skipSpace(buf, i+1)
		end = skipValue(buf, start)
		if end < 0 {
			return nil, errBadObject
		}
		out[name] = json.RawMessage(buf[start:end:end])
		i = skipSpace(buf, end)
		if i >= len(buf) {
			return nil, errBadObject
		}
		if buf[i] == '}' {
			return out, nil
		}
		if buf[i] != ',' {
			return nil, errBadObject
		}
		i = skipSpace(buf, i+1)
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] ('"'),
// or -1.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// skipValue returns the index after the (valid) JSON value starting at
// b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				if j = skipString(b, j); j < 0 {
					return -1
				}
				j--
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\t' && b[j] != '\r' {
		j++
	}
	if j == i {
		return -1
	}
	return j
}
