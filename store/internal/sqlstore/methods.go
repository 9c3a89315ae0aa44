package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/consumergroup"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/servicegroup"
	"github.com/gatehousehq/gatehouse/store"
)

// ---- consumers ----

// GetConsumer returns the consumer named username.
func (s *Store) GetConsumer(ctx context.Context, username string) (*consumer.Consumer, error) {
	return get(s, ctx, consumers, username)
}

// PutConsumer creates or replaces the consumer named username with what fn
// returns; see store.Store.
func (s *Store) PutConsumer(ctx context.Context, username string, fn store.Mutator[consumer.Consumer]) (*consumer.Consumer, bool, error) {
	return put(s, ctx, consumers, fn, username)
}

// DeleteConsumer deletes the consumer and, by cascade, its credentials.
// Watchers see a deleted change for each credential, then one for the
// consumer.
func (s *Store) DeleteConsumer(ctx context.Context, username string) error {
	return del(s, ctx, consumers, func(t *tx) error {
		// Lock the consumer first: no credential can join it until commit.
		ok, err := exists(t, consumers, true, username)
		if err != nil || !ok {
			return errOr(err, consumers.notFound([]string{username}))
		}
		ids, err := t.strings("SELECT id FROM credentials WHERE consumer = ? ORDER BY id", username)
		if err != nil {
			return err
		}
		for _, id := range ids {
			t.announce(credentials.change([]string{username, id}, true))
		}
		return nil
	}, username)
}

// errOr returns err when it is not nil, else missing marked for the caller.
func errOr(err, missing error) error {
	if err != nil {
		return err
	}
	return user(missing)
}

// ListConsumers returns a page of consumers ordered by username, keeping those
// whose labels hold every pair of opts.Labels.
func (s *Store) ListConsumers(ctx context.Context, opts store.ListOptions) (store.Page[consumer.Consumer], error) {
	var where []string
	var wargs []any
	for _, k := range slices.Sorted(maps.Keys(opts.Labels)) {
		where = append(where, "username IN (SELECT username FROM consumer_labels WHERE key = ? AND value = ?)")
		wargs = append(wargs, k, opts.Labels[k])
	}
	return list(s, ctx, consumers, opts, "username", where, wargs, nil)
}

// ---- credentials ----

// GetCredential returns the credential id of the consumer username.
func (s *Store) GetCredential(ctx context.Context, username, id string) (*credential.Credential, error) {
	return get(s, ctx, credentials, username, id)
}

// PutCredential creates or replaces credential id of the consumer username;
// see store.Store.
func (s *Store) PutCredential(ctx context.Context, username, id string, fn store.Mutator[credential.Credential]) (*credential.Credential, bool, error) {
	var out *credential.Credential
	var created bool
	err := s.write(ctx, func(t *tx) error {
		ok, err := exists(t, consumers, false, username)
		if err != nil || !ok {
			return errOr(err, consumers.notFound([]string{username}))
		}
		out, created, err = putTx(t, credentials, []string{username, id}, fn)
		return err
	})
	if err != nil {
		return nil, false, wrapPut(credentials.what, id, err)
	}
	return out, created, nil
}

// wrapPut names the object a failed put was about, unless the error already
// does.
func wrapPut(what, id string, err error) error {
	var ce *store.ConflictError
	if errors.Is(err, store.ErrNotFound) || errors.As(err, &ce) || errors.Is(err, store.ErrUnavailable) {
		return err
	}
	return fmt.Errorf("store: %s %q: %w", what, id, err)
}

// PutConsumerWithCredential writes the consumer and its credential in one
// transaction; see store.Store.
func (s *Store) PutConsumerWithCredential(ctx context.Context, username string, consumerFn store.Mutator[consumer.Consumer],
	credID string, credFn store.Mutator[credential.Credential]) (*consumer.Consumer, *credential.Credential, error) {
	var c *consumer.Consumer
	var cr *credential.Credential
	what, id := consumers.what, username
	err := s.write(ctx, func(t *tx) error {
		what, id = consumers.what, username
		var err error
		if c, _, err = putTx(t, consumers, []string{username}, consumerFn); err != nil {
			return err
		}
		what, id = credentials.what, credID
		cr, _, err = putTx(t, credentials, []string{username, credID}, credFn)
		return err
	})
	if err != nil {
		return nil, nil, wrapPut(what, id, err)
	}
	return c, cr, nil
}

// FindCredential returns the credential whose Lookup is lookup, whichever
// consumer holds it.
func (s *Store) FindCredential(ctx context.Context, lookup string) (*credential.Credential, error) {
	notFound := fmt.Errorf("credential with the given lookup: %w", store.ErrNotFound)
	if lookup == "" {
		return nil, notFound
	}
	row := s.r.QueryRowContext(ctx, s.q("SELECT "+credentials.selectCols()+" FROM credentials WHERE lookup = ?"), lookup)
	c, err := credentials.scanObject(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound
	}
	if err != nil {
		return nil, s.dbErr(ctx, err)
	}
	return c, nil
}

// DeleteCredential deletes credential id of the consumer username.
func (s *Store) DeleteCredential(ctx context.Context, username, id string) error {
	return del(s, ctx, credentials, nil, username, id)
}

// ListCredentials returns a page of the consumer's credentials ordered by id;
// store.ErrNotFound when the consumer does not exist.
func (s *Store) ListCredentials(ctx context.Context, username string, opts store.ListOptions) (store.Page[credential.Credential], error) {
	return list(s, ctx, credentials, opts, "id", []string{"consumer = ?"}, []any{username}, func(tx *sql.Tx) error {
		return s.mustExist(ctx, tx, "consumers", "username", username, consumers.notFound)
	})
}

// mustExist checks, in tx, that table holds a row whose col is key.
func (s *Store) mustExist(ctx context.Context, tx *sql.Tx, table, col, key string, notFound func([]string) error) error {
	var one int
	err := tx.QueryRowContext(ctx, s.q("SELECT 1 FROM "+table+" WHERE "+col+" = ?"), key).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return user(notFound([]string{key}))
	}
	return err
}

// QueryCredentials returns a page of the credentials of every consumer that
// q selects, ordered by consumer, then id (the primary key: cursors carry
// no lookup). The lookup, issuing group and authorized entities are indexed.
func (s *Store) QueryCredentials(ctx context.Context, q store.CredentialQuery, opts store.ListOptions) (store.Page[credential.Credential], error) {
	where := []string{"lookup <> ''"}
	var wargs []any
	if q.LookupPrefix != "" {
		where = append(where, "lookup >= ?")
		wargs = append(wargs, q.LookupPrefix)
		if upper, ok := prefixEnd(q.LookupPrefix); ok {
			where = append(where, "lookup < ?")
			wargs = append(wargs, upper)
		}
	}
	if q.ConsumerGroup != "" {
		where = append(where, "consumer_group = ?")
		wargs = append(wargs, q.ConsumerGroup)
	}
	if ents := uniqueSorted(q.AnyEntity); len(ents) > 0 {
		where = append(where, "EXISTS (SELECT 1 FROM credential_entities e WHERE e.consumer = credentials.consumer"+
			" AND e.credential = credentials.id AND e.entity IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(ents)), ", ")+"))")
		for _, e := range ents {
			wargs = append(wargs, e)
		}
	}
	return list(s, ctx, credentials, opts, "consumer, id", where, wargs, nil)
}

// prefixEnd returns the least string greater than every string that starts
// with prefix (valid UTF-8 stays valid: the last rune is incremented), and
// false when there is none.
func prefixEnd(prefix string) (string, bool) {
	for prefix != "" {
		r, size := utf8.DecodeLastRuneInString(prefix)
		rest := prefix[:len(prefix)-size]
		if r == utf8.RuneError && size == 1 {
			if b := prefix[len(prefix)-1]; b < 0xff {
				return rest + string([]byte{b + 1}), true
			}
			prefix = rest
			continue
		}
		next := r + 1
		if next == 0xD800 { // skip the surrogates, which UTF-8 cannot hold
			next = 0xE000
		}
		if next <= utf8.MaxRune {
			return rest + string(next), true
		}
		prefix = rest
	}
	return "", false
}

// ---- routes ----

// GetRoute returns the route id.
func (s *Store) GetRoute(ctx context.Context, id string) (*route.Route, error) {
	return get(s, ctx, routes, id)
}

// PutRoute creates or replaces route id with what fn returns.
func (s *Store) PutRoute(ctx context.Context, id string, fn store.Mutator[route.Route]) (*route.Route, bool, error) {
	return put(s, ctx, routes, fn, id)
}

// DeleteRoute deletes route id.
func (s *Store) DeleteRoute(ctx context.Context, id string) error {
	return del(s, ctx, routes, nil, id)
}

// ListRoutes returns a page of routes ordered by id.
func (s *Store) ListRoutes(ctx context.Context, opts store.ListOptions) (store.Page[route.Route], error) {
	return list(s, ctx, routes, opts, "id", nil, nil, nil)
}

// ---- service groups ----

// GetGroup returns the service group id.
func (s *Store) GetGroup(ctx context.Context, id string) (*servicegroup.Group, error) {
	return get(s, ctx, serviceGroups, id)
}

// PutGroup creates or replaces service group id with what fn returns.
func (s *Store) PutGroup(ctx context.Context, id string, fn store.Mutator[servicegroup.Group]) (*servicegroup.Group, bool, error) {
	return put(s, ctx, serviceGroups, fn, id)
}

// DeleteGroup deletes service group id, and nothing else.
func (s *Store) DeleteGroup(ctx context.Context, id string) error {
	return del(s, ctx, serviceGroups, nil, id)
}

// ListGroups returns a page of service groups ordered by id, keeping those
// tagged opts.Tag when it is set.
func (s *Store) ListGroups(ctx context.Context, opts store.ListOptions) (store.Page[servicegroup.Group], error) {
	var where []string
	var wargs []any
	if opts.Tag != "" {
		where = []string{"id IN (SELECT group_id FROM service_group_tags WHERE tag = ?)"}
		wargs = []any{opts.Tag}
	}
	return list(s, ctx, serviceGroups, opts, "id", where, wargs, nil)
}

// ---- gateways ----

// GetGateway returns the gateway id.
func (s *Store) GetGateway(ctx context.Context, id string) (*consumergroup.Gateway, error) {
	return get(s, ctx, gateways, id)
}

// PutGateway creates or replaces gateway id with what fn returns.
func (s *Store) PutGateway(ctx context.Context, id string, fn store.Mutator[consumergroup.Gateway]) (*consumergroup.Gateway, bool, error) {
	return put(s, ctx, gateways, fn, id)
}

// DeleteGateway deletes gateway id; the foreign key of its consumer groups
// refuses it (store.ConflictGatewayNotEmpty) while it holds any.
func (s *Store) DeleteGateway(ctx context.Context, id string) error {
	return del(s, ctx, gateways, nil, id)
}

// ListGateways returns a page of gateways ordered by id.
func (s *Store) ListGateways(ctx context.Context, opts store.ListOptions) (store.Page[consumergroup.Gateway], error) {
	return list(s, ctx, gateways, opts, "id", nil, nil, nil)
}

// ---- consumer groups ----

// GetConsumerGroup returns the consumer group id.
func (s *Store) GetConsumerGroup(ctx context.Context, id string) (*consumergroup.Group, error) {
	return get(s, ctx, consumerGroups, id)
}

// PutConsumerGroup creates or replaces consumer group id with what fn
// returns; see store.Store.
func (s *Store) PutConsumerGroup(ctx context.Context, id string, fn store.Mutator[consumergroup.Group]) (*consumergroup.Group, bool, error) {
	return put(s, ctx, consumerGroups, fn, id)
}

// DeleteConsumerGroup deletes consumer group id and the keys it issued, in
// one transaction. Watchers see a deleted change for each key, then one for
// the group.
func (s *Store) DeleteConsumerGroup(ctx context.Context, id string) error {
	return del(s, ctx, consumerGroups, func(t *tx) error {
		ok, err := exists(t, consumerGroups, true, id)
		if err != nil || !ok {
			return errOr(err, consumerGroups.notFound([]string{id}))
		}
		rows, err := t.query("SELECT consumer, id FROM credentials WHERE consumer_group = ? ORDER BY consumer, id"+t.s.d.ForUpdate, id)
		if err != nil {
			return err
		}
		var keys [][]string
		for rows.Next() {
			var u, cid string
			if err := rows.Scan(&u, &cid); err != nil {
				rows.Close()
				return err
			}
			keys = append(keys, []string{u, cid})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(keys) == 0 {
			return nil
		}
		if _, err := t.exec("DELETE FROM credentials WHERE consumer_group = ?", id); err != nil {
			return err
		}
		for _, k := range keys {
			t.announce(credentials.change(k, true))
		}
		return nil
	}, id)
}

// ListConsumerGroups returns a page of the consumer groups of gatewayID
// ordered by id; store.ErrNotFound when the gateway does not exist.
func (s *Store) ListConsumerGroups(ctx context.Context, gatewayID string, opts store.ListOptions) (store.Page[consumergroup.Group], error) {
	return list(s, ctx, consumerGroups, opts, "id", []string{"gateway_id = ?"}, []any{gatewayID}, func(tx *sql.Tx) error {
		return s.mustExist(ctx, tx, "gateways", "id", gatewayID, gateways.notFound)
	})
}

// ---- snapshot ----

// Snapshot returns the whole configuration, read in one transaction (with
// Dialect.ReadRaw when the dialect has it).
func (s *Store) Snapshot(ctx context.Context) (*store.Snapshot, error) {
	snap := &store.Snapshot{}
	var err error
	if s.d.ReadRaw != nil {
		err = s.d.ReadRaw(ctx, s.r, func(raw RawQuery) error {
			return s.snapshot(ctx, querier{raw: raw, f: s.d.formats(true)}, snap)
		})
		err = s.dbErr(ctx, err)
	} else {
		err = s.read(ctx, func(tx *sql.Tx) error {
			return s.snapshot(ctx, querier{tx: tx, f: s.d.formats(false)}, snap)
		})
	}
	if err != nil {
		return nil, err
	}
	return snap, nil
}

func (s *Store) snapshot(ctx context.Context, q querier, snap *store.Snapshot) error {
	var err error
	if snap.Consumers, err = scanAll(s, ctx, q, consumers, "", nil, "", 0); err != nil {
		return err
	}
	if snap.Credentials, err = scanAll(s, ctx, q, credentials, "", nil, "", 0); err != nil {
		return err
	}
	if snap.Routes, err = scanAll(s, ctx, q, routes, "", nil, "", 0); err != nil {
		return err
	}
	if snap.Groups, err = scanAll(s, ctx, q, serviceGroups, "", nil, "", 0); err != nil {
		return err
	}
	if snap.Gateways, err = scanAll(s, ctx, q, gateways, "", nil, "", 0); err != nil {
		return err
	}
	snap.ConsumerGroups, err = scanAll(s, ctx, q, consumerGroups, "", nil, "", 0)
	return err
}

// ---- lists ----

// list returns the page of k's objects that opts selects among those the
// where clauses keep, ordered by the column order (unique among them). pre,
// when not nil, runs first in the same transaction.
func list[T any](s *Store, ctx context.Context, k *kind[T], opts store.ListOptions, order string, where []string, wargs []any,
	pre func(*sql.Tx) error) (store.Page[T], error) {
	cols := strings.Split(order, ", ")
	var after []string
	if opts.Cursor != "" {
		key, err := store.DecodeCursor(opts.Cursor)
		if err != nil {
			return store.Page[T]{}, err
		}
		// Several order columns: their values joined by NUL, which keys
		// never hold.
		// Keys are valid UTF-8 (PostgreSQL refuses anything else in text).
		if after = strings.Split(key, "\x00"); len(after) != len(cols) || !utf8.ValidString(key) {
			return store.Page[T]{}, fmt.Errorf("store: %w %q", store.ErrInvalidCursor, opts.Cursor)
		}
	}
	n := opts.PageSize()
	filter := "1 = 1"
	if len(where) > 0 {
		filter = strings.Join(where, " AND ")
	}
	var page store.Page[T]
	err := s.read(ctx, func(tx *sql.Tx) error {
		if pre != nil {
			if err := pre(tx); err != nil {
				return err
			}
		}
		if err := tx.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM "+k.table+" WHERE "+filter), wargs...).Scan(&page.Total); err != nil {
			return err
		}
		f, a := filter, wargs
		if opts.Cursor != "" {
			marks := strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")
			f, a = filter+" AND ("+order+") > ("+marks+")", slices.Clone(wargs)
			for _, v := range after {
				a = append(a, v)
			}
		}
		items, err := scanAll(s, ctx, querier{tx: tx, f: s.d.formats(false)}, k, f, a, order, n+1)
		if err != nil {
			return err
		}
		if len(items) > n {
			items = items[:n]
			page.Next = store.EncodeCursor(strings.Join(orderKey(k, items[n-1], order), "\x00"))
		}
		page.Items = items
		return nil
	})
	if err != nil {
		return store.Page[T]{}, err
	}
	if page.Items == nil {
		page.Items = []*T{}
	}
	return page, nil
}

// orderKey returns the values of the order columns of v.
func orderKey[T any](k *kind[T], v *T, order string) []string {
	if c, ok := any(v).(*credential.Credential); ok && order == "consumer, id" {
		return []string{c.Consumer, c.ID}
	}
	id, _, _ := k.fields(v)
	return []string{*id}
}

// querier runs scanAll's query: in tx, or through raw; f are the forms of
// its rows.
type querier struct {
	tx  *sql.Tx
	raw RawQuery
	f   formats
}

// scanAll reads k's objects that the filter keeps (all when empty), ordered
// by order (by the keys when empty), at most max of them when max > 0.
func scanAll[T any](s *Store, ctx context.Context, q querier, k *kind[T], filter string, fargs []any, order string, max int) ([]*T, error) {
	query := "SELECT " + k.selectCols() + " FROM " + k.table
	if filter != "" {
		query += " WHERE " + filter
	}
	if order == "" {
		order = strings.Join(k.keys, ", ")
	}
	query += " ORDER BY " + order
	if max > 0 {
		query += fmt.Sprintf(" LIMIT %d", max)
	}
	var out []*T
	q.f.batch = newBatch()
	if q.raw != nil {
		rows, err := q.raw(ctx, s.q(query), fargs...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			v, err := k.decodeRow(q.f, rows.RawValues())
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, rows.Err()
	}
	rows, err := q.tx.QueryContext(ctx, s.q(query), fargs...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	raw := make([]sql.RawBytes, len(k.keys)+len(k.cols))
	row := make([][]byte, len(raw))
	dest := make([]any, len(raw))
	for i := range raw {
		dest[i] = &raw[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		for i, r := range raw {
			row[i] = r
		}
		v, err := k.decodeRow(q.f, row)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// strings returns the first column of the rows query returns.
func (t *tx) strings(query string, a ...any) ([]string, error) {
	rows, err := t.query(query, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
