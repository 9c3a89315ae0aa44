package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse/store"
)

// kind describes how one kind of object is kept: its table, key columns,
// other columns and side tables. The generic functions below read and write
// every kind through it.
type kind[T any] struct {
	// what names the kind in errors ("consumer").
	what string
	// table is the kind's table; keys its key columns, the last one being
	// the object's own id (its username for consumers).
	table string
	keys  []string
	// cols are the columns written and read beside the keys; vals gives
	// their values for an object.
	cols []string
	vals func(d *Dialect, v *T) ([]any, error)
	// decode builds an object from a row of the keys' and cols' values.
	decode func(f formats, row [][]byte) (*T, error)
	// clone copies an object; fields points at its id and timestamps.
	clone  func(*T) *T
	fields func(*T) (id *string, created, updated *time.Time)
	// check, when not nil, runs on the object to write (cur is the stored
	// one or nil); a failure is returned as is.
	check func(cur, next *T) error
	// conflict maps a unique index's refusal (by the index name) or a
	// foreign key's (index "") to the store's error; nil when the kind has
	// neither.
	conflict func(index string, keys []string, v *T) error
	// side rewrites the object's rows in side tables (labels, tags,
	// entities); cur is the stored object or nil.
	side func(t *tx, keys []string, cur, next *T) error
	// change is the Change announcing a write of the object.
	change func(keys []string, deleted bool) store.Change
}

// docKind fills k's cols, vals and decode for a kind kept as a JSON
// document (doc), after the columns extra returns the values of.
func docKind[T any](k *kind[T], extraCols []string, extra func(*T) []any) *kind[T] {
	k.cols = append(slices.Clone(extraCols), "doc")
	k.vals = func(_ *Dialect, v *T) ([]any, error) {
		doc, err := encode(v)
		if err != nil {
			return nil, err
		}
		var vals []any
		if extra != nil {
			vals = extra(v)
		}
		return append(vals, string(doc)), nil
	}
	at := len(k.keys) + len(extraCols)
	k.decode = func(_ formats, row [][]byte) (*T, error) {
		v := new(T)
		return v, json.Unmarshal(row[at], v)
	}
	return k
}

// notFound is the error for a missing object.
func (k *kind[T]) notFound(keys []string) error {
	if len(keys) == 2 {
		return fmt.Errorf("%s %q of consumer %q: %w", k.what, keys[1], keys[0], store.ErrNotFound)
	}
	return fmt.Errorf("%s %q: %w", k.what, keys[0], store.ErrNotFound)
}

// where returns "k1 = ? AND k2 = ?" for the key columns.
func (k *kind[T]) where() string {
	parts := make([]string, len(k.keys))
	for i, c := range k.keys {
		parts[i] = c + " = ?"
	}
	return strings.Join(parts, " AND ")
}

// selectCols are the columns a read returns: the keys, then cols.
func (k *kind[T]) selectCols() string {
	return strings.Join(k.keys, ", ") + ", " + strings.Join(k.cols, ", ")
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// scanObject reads one row of selectCols into a new object.
func (k *kind[T]) scanObject(row scanner) (*T, error) {
	vals := make([][]byte, len(k.keys)+len(k.cols))
	dest := make([]any, len(vals))
	for i := range vals {
		dest[i] = &vals[i]
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	return k.decodeRow(textFormats, vals)
}

// decodeRow builds an object from a row of selectCols.
func (k *kind[T]) decodeRow(f formats, row [][]byte) (*T, error) {
	v, err := k.decode(f, row)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: decode %s %q: %w", k.what, row[len(k.keys)-1], err)
	}
	return v, nil
}

func args(keys []string) []any {
	out := make([]any, len(keys))
	for i, k := range keys {
		out[i] = k
	}
	return out
}

// get reads the object with the given keys.
func get[T any](s *Store, ctx context.Context, k *kind[T], keys ...string) (*T, error) {
	row := s.r.QueryRowContext(ctx, s.q("SELECT "+k.selectCols()+" FROM "+k.table+" WHERE "+k.where()), args(keys)...)
	v, err := k.scanObject(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, k.notFound(keys)
	}
	if err != nil {
		return nil, s.dbErr(ctx, err)
	}
	return v, nil
}

// load reads the stored object to replace, locking its row; nil when missing.
func load[T any](t *tx, k *kind[T], keys []string) (*T, error) {
	row := t.queryRow("SELECT "+k.selectCols()+" FROM "+k.table+" WHERE "+k.where()+t.s.d.ForUpdate, args(keys)...)
	v, err := k.scanObject(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return v, err
}

// putTx runs fn on the stored object (a copy) and writes what it returns in
// t. It returns what the database holds afterwards and whether it created
// the object.
func putTx[T any](t *tx, k *kind[T], keys []string, fn store.Mutator[T]) (*T, bool, error) {
	cur, err := load(t, k, keys)
	if err != nil {
		return nil, false, err
	}
	var arg *T
	if cur != nil {
		arg = k.clone(cur)
	}
	next, err := fn(arg)
	if err != nil {
		return nil, false, user(err)
	}
	if next == nil {
		return nil, false, user(errNilResult)
	}
	next = k.clone(next)
	id, created, updated := k.fields(next)
	own := keys[len(keys)-1]
	if *id == "" {
		*id = own
	}
	if *id != own {
		return nil, false, user(fmt.Errorf("mutator changed the id to %q", *id))
	}
	now := t.s.timestamp()
	*created, *updated = now, now
	if cur != nil {
		_, curCreated, _ := k.fields(cur)
		*created = *curCreated
	}
	if k.check != nil {
		if err := k.check(cur, next); err != nil {
			return nil, false, user(err)
		}
	}
	vals, err := k.vals(&t.s.d, next)
	if err != nil {
		return nil, false, user(fmt.Errorf("encode: %w", err))
	}
	var row scanner
	if cur == nil {
		cols := append(slices.Clone(k.keys), k.cols...)
		q := "INSERT INTO " + k.table + " (" + strings.Join(cols, ", ") + ") VALUES (" +
			strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ") ON CONFLICT (" + strings.Join(k.keys, ", ") +
			") DO NOTHING RETURNING " + k.selectCols()
		row = t.queryRow(q, append(args(keys), vals...)...)
	} else {
		set := make([]string, len(k.cols))
		for i, c := range k.cols {
			set[i] = c + " = ?"
		}
		q := "UPDATE " + k.table + " SET " + strings.Join(set, ", ") + " WHERE " + k.where() + " RETURNING " + k.selectCols()
		row = t.queryRow(q, append(vals, args(keys)...)...)
	}
	out, err := k.scanObject(row)
	if cur == nil && errors.Is(err, sql.ErrNoRows) {
		return nil, false, errRace
	}
	if err != nil {
		return nil, false, t.s.refused(k, err, keys, next)
	}
	if k.side != nil {
		if err := k.side(t, keys, cur, next); err != nil {
			return nil, false, t.s.refused(k, err, keys, next)
		}
	}
	t.announce(k.change(keys, false))
	return out, cur == nil, nil
}

// refused maps a unique or foreign key violation of a write of v to the
// kind's error (marked for the caller); other errors are returned as they
// are.
func (s *Store) refused(k interface {
	conflictErr(index string, keys []string, v any) error
}, err error, keys []string, v any) error {
	class, index := s.d.Classify(err)
	switch {
	case class == ErrUnique && index != "":
	case class == ErrForeignKey:
		index = ""
	default:
		return err
	}
	if e := k.conflictErr(index, keys, v); e != nil {
		return user(e)
	}
	return err
}

func (k *kind[T]) conflictErr(index string, keys []string, v any) error {
	if k.conflict == nil {
		return nil
	}
	return k.conflict(index, keys, v.(*T))
}

// put writes the object with the given keys in its own transaction; see
// putTx.
func put[T any](s *Store, ctx context.Context, k *kind[T], fn store.Mutator[T], keys ...string) (*T, bool, error) {
	var out *T
	var created bool
	err := s.write(ctx, func(t *tx) error {
		var err error
		out, created, err = putTx(t, k, keys, fn)
		return err
	})
	if err != nil {
		var ce *store.ConflictError
		if errors.Is(err, store.ErrNotFound) || errors.As(err, &ce) || errors.Is(err, store.ErrUnavailable) {
			return nil, false, err
		}
		return nil, false, fmt.Errorf("store: %s %q: %w", k.what, keys[len(keys)-1], err)
	}
	return out, created, nil
}

// del deletes the object with the given keys; before, when not nil, runs
// first in the transaction (to delete and announce what goes with it).
func del[T any](s *Store, ctx context.Context, k *kind[T], before func(t *tx) error, keys ...string) error {
	return s.write(ctx, func(t *tx) error {
		if before != nil {
			if err := before(t); err != nil {
				return err
			}
		}
		res, err := t.exec("DELETE FROM "+k.table+" WHERE "+k.where(), args(keys)...)
		if err != nil {
			return t.s.refused(k, err, keys, (*T)(nil))
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return user(k.notFound(keys))
		}
		t.announce(k.change(keys, true))
		return nil
	})
}

// exists reports whether the object with the given keys exists, in t.
func exists[T any](t *tx, k *kind[T], lock bool, keys ...string) (bool, error) {
	q := "SELECT 1 FROM " + k.table + " WHERE " + k.where()
	if lock {
		q += t.s.d.ForUpdate
	}
	var one int
	err := t.queryRow(q, args(keys)...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// encode returns v's JSON document as the store keeps it: HTML characters
// left alone, and a space after every colon and comma between tokens, the
// way PostgreSQL's jsonb prints, so that both back-ends hand plugin settings
// back in the same form.
func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return spaced(bytes.TrimSuffix(b.Bytes(), []byte("\n"))), nil
}

// spaced puts a space after each colon and comma outside strings of the
// compact JSON text b.
func spaced(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/8)
	in, esc := false, false
	for _, c := range b {
		out = append(out, c)
		switch {
		case in && esc:
			esc = false
		case in && c == '\\':
			esc = true
		case c == '"':
			in = !in
		case !in && (c == ':' || c == ','):
			out = append(out, ' ')
		}
	}
	return out
}
