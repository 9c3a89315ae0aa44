// Package sqlstore is the store.Store that store/sqlite and store/postgres
// share: one implementation over database/sql, parameterised by a Dialect.
//
// Every kind of object has its table, with its key columns, the columns the
// database indexes or checks (a credential's name, lookup and issuing group; a
// consumer group's gateway and name) and a JSON document of the object. Side
// tables hold what lists and queries filter on: consumer labels, service group
// tags and credential authorized entities. Unique indexes enforce the store's
// uniqueness rules and foreign keys its ownership rules; their violations are
// mapped to the store's errors. Every write is one transaction that also
// appends its changes to an outbox table (changes) that watchers read.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehousehq/gatehouse/store"
)

// ErrorClass sorts the errors of a database driver for the store.
type ErrorClass uint8

// Error classes.
const (
	// ErrOther is any error the store does not handle specially.
	ErrOther ErrorClass = iota
	// ErrUnique: a unique index refused the write; Classify also returns the
	// index's name (as the migrations name it).
	ErrUnique
	// ErrForeignKey: a foreign key refused the write.
	ErrForeignKey
	// ErrUnavailable: the database cannot be reached (refused, lost, timed
	// out, busy for too long).
	ErrUnavailable
	// ErrRetry: the transaction lost a race the database detected (deadlock,
	// serialization failure) and may be run again.
	ErrRetry
)

// Dialect is what differs between two SQL back-ends.
type Dialect struct {
	// Name names the back-end in error messages ("sqlite", "postgres").
	Name string
	// Numbered is true when placeholders are $1, $2, …; false for ?.
	Numbered bool
	// ForUpdate is appended to the SELECT that reads the row a write is
	// about to replace, to lock it (" FOR UPDATE"); empty when write
	// transactions already exclude each other.
	ForUpdate string
	// Types replaces {{name}} in the migrations: "text" is the type of key
	// and indexed text columns (compared in byte order), "json" the type of
	// the document columns of migration 0001 (later migrations are written
	// for one dialect).
	Types map[string]string
	// TimeText is true when time columns hold RFC 3339 text (written as
	// such); false when the driver takes and returns time.Time.
	TimeText bool
	// JSONChecked is true when the database refuses JSON column values
	// that are not valid JSON (PostgreSQL's json type): reads do not check
	// them again.
	JSONChecked bool
	// ReadRaw, when not nil, runs Snapshot's reads without database/sql's
	// conversions: fn in a read-only transaction that sees the database at
	// one instant, on a connection of db, whose rows are the driver's bytes;
	// booleans and instants come in the forms RawBool and RawTime decode.
	ReadRaw func(ctx context.Context, db *sql.DB, fn func(RawQuery) error) error
	RawBool func([]byte) (bool, error)
	RawTime func([]byte) (time.Time, error)
	// PrepareWrites keeps the statements of write transactions prepared
	// (for a driver that does not cache them itself).
	PrepareWrites bool
	// ReadTx are the options of the transactions that read several tables
	// at one instant (lists, Snapshot); nil for the driver's defaults.
	ReadTx *sql.TxOptions
	// Classify sorts an error of the driver; for ErrUnique it also returns
	// the index's name.
	Classify func(err error) (ErrorClass, string)
	// LockMigrations, when not nil, runs first in the transaction that
	// applies the migrations, to keep other instances from applying them at
	// the same time.
	LockMigrations func(ctx context.Context, tx *sql.Tx) error
	// Flush, when not nil, replaces the store's own statements that append
	// a transaction's changes to the outbox (see tx.flush), for a back-end
	// that does it in one round trip and announces them (PostgreSQL:
	// NOTIFY). It returns the last sequence number taken.
	Flush func(ctx context.Context, tx *sql.Tx, changes []store.Change, atMillis int64) (int64, error)
}

// RawRows are the rows of a query of Dialect.ReadRaw: each column's value as
// the driver received it (nil for NULL), valid until the next Next.
type RawRows interface {
	Next() bool
	RawValues() [][]byte
	Err() error
	Close()
}

// RawQuery runs a query in the transaction of Dialect.ReadRaw.
type RawQuery func(ctx context.Context, query string, args ...any) (RawRows, error)

// Config is what New needs besides the dialect.
type Config struct {
	// Writer runs the write transactions; Reader runs the reads (it may be
	// the same pool).
	Writer, Reader *sql.DB
	// Poll is how often a watcher reads the outbox when nothing woke it
	// (default 1 s).
	Poll time.Duration
	// KeepChanges and KeepFor bound the outbox: rows beyond the last
	// KeepChanges, or older than KeepFor, are pruned (defaults 100,000 and
	// 10 minutes). A watcher that needed a pruned row gets store.KindReset.
	KeepChanges int64
	KeepFor     time.Duration
	// UpTo, when > 0, stops the migrations after that version: a schema as
	// an older build left it, for tests of upgrades.
	UpTo int
}

// Store is the shared store.Store. Build it with New; the back-end packages
// wrap it.
type Store struct {
	d         Dialect
	w, r      *sql.DB
	poll      time.Duration
	keepN     int64
	keepFor   time.Duration
	upTo      int
	now       func() time.Time
	done      chan struct{}
	closeOnce sync.Once
	bg        sync.WaitGroup

	// stmts are the write statements prepared on the writer pool, by query.
	stmts sync.Map

	// nextQuery is the watchers' read of the outbox (next), in the
	// dialect's placeholders.
	nextQuery string

	mu       sync.Mutex
	watchers map[*watcher]struct{}
}

var _ store.Store = (*Store)(nil)

// New applies the migrations the database lacks and returns the Store. The
// pools in cfg stay the caller's: Close does not close them.
func New(ctx context.Context, d Dialect, cfg Config) (*Store, error) {
	s := &Store{
		d: d, w: cfg.Writer, r: cfg.Reader,
		poll: cfg.Poll, keepN: cfg.KeepChanges, keepFor: cfg.KeepFor, upTo: cfg.UpTo,
		now:      time.Now,
		done:     make(chan struct{}),
		watchers: make(map[*watcher]struct{}),
	}
	s.nextQuery = s.q(nextSQL)
	if s.poll <= 0 {
		s.poll = time.Second
	}
	if s.keepN <= 0 {
		s.keepN = 100_000
	}
	if s.keepFor <= 0 {
		s.keepFor = 10 * time.Minute
	}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	s.bg.Add(1)
	go s.pruneLoop()
	return s, nil
}

// Close stops the store's background work and ends every watcher (their
// channels close). It does not close the pools given to New.
func (s *Store) Close() {
	s.closeOnce.Do(func() { close(s.done) })
	s.bg.Wait()
	s.stmts.Range(func(k, st any) bool {
		_ = st.(*sql.Stmt).Close()
		s.stmts.Delete(k)
		return true
	})
}

// timestamp is the store's current time as it is stored.
func (s *Store) timestamp() time.Time { return normTime(s.now()) }

func normTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// q rewrites the ? placeholders of query for the dialect.
func (s *Store) q(query string) string {
	if !s.d.Numbered {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// errRace reports that a row the transaction found missing was created by
// another one before the insert: the write runs again.
var errRace = errors.New("sqlstore: concurrent insert")

// errNilResult is returned when a mutator returns neither a value nor an
// error.
var errNilResult = errors.New("store: mutator returned a nil value")

// dbErr wraps an error of the database for the caller: connection failures
// match store.ErrUnavailable.
func (s *Store) dbErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return err
	}
	if class, _ := s.d.Classify(err); class == ErrUnavailable {
		return fmt.Errorf("store: %s: %w: %w", s.d.Name, store.ErrUnavailable, err)
	}
	return fmt.Errorf("store: %s: %w", s.d.Name, err)
}

// tx is a write transaction and the changes it will announce.
type tx struct {
	s       *Store
	ctx     context.Context
	tx      *sql.Tx
	changes []store.Change
	misses  []string // queries not prepared on the pool yet
}

// insertChunk bounds the rows of one INSERT statement (and so its
// parameters, and the variety of statements prepared).
const insertChunk = 64

// insert inserts rows, each holding the values of cols, into table.
func (t *tx) insert(table string, cols []string, rows [][]any) error {
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	for len(rows) > 0 {
		chunk := rows[:min(len(rows), insertChunk)]
		rows = rows[len(chunk):]
		var b strings.Builder
		b.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
		vals := make([]any, 0, len(chunk)*len(cols))
		for i, r := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(tuple)
			vals = append(vals, r...)
		}
		if _, err := t.exec(b.String(), vals...); err != nil {
			return err
		}
	}
	return nil
}

// stmt returns the statement query prepared for t. With
// Dialect.PrepareWrites, write statements are prepared once per connection
// and kept.
func (t *tx) stmt(query string) (*sql.Stmt, error) {
	if st, ok := t.s.stmts.Load(query); ok {
		return t.tx.StmtContext(t.ctx, st.(*sql.Stmt)), nil
	}
	// Prepared on the transaction's connection for now; keep prepares it on
	// the pool after the transaction, when the connection is free again.
	st, err := t.tx.PrepareContext(t.ctx, t.s.q(query))
	if err != nil {
		return nil, err
	}
	t.misses = append(t.misses, query)
	return st, nil
}

// keep prepares the queries on the writer pool, for the next transactions.
func (s *Store) keep(ctx context.Context, queries []string) {
	for _, query := range queries {
		if _, ok := s.stmts.Load(query); ok {
			continue
		}
		st, err := s.w.PrepareContext(ctx, s.q(query))
		if err != nil {
			return
		}
		if _, loaded := s.stmts.LoadOrStore(query, st); loaded {
			_ = st.Close()
		}
	}
}

func (t *tx) exec(query string, args ...any) (sql.Result, error) {
	if !t.s.d.PrepareWrites {
		return t.tx.ExecContext(t.ctx, t.s.q(query), args...)
	}
	st, err := t.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(t.ctx, args...)
}

func (t *tx) query(query string, args ...any) (*sql.Rows, error) {
	if !t.s.d.PrepareWrites {
		return t.tx.QueryContext(t.ctx, t.s.q(query), args...)
	}
	st, err := t.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(t.ctx, args...)
}

// queryRow runs a query of one row; errors come out of Scan.
func (t *tx) queryRow(query string, args ...any) scanner {
	if !t.s.d.PrepareWrites {
		return t.tx.QueryRowContext(t.ctx, t.s.q(query), args...)
	}
	st, err := t.stmt(query)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(t.ctx, args...)
}

// errRow is a row that failed before it was read.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// announce queues c for the outbox, in order.
func (t *tx) announce(c store.Change) { t.changes = append(t.changes, c) }

// maxAttempts bounds how often write runs a transaction that lost a race.
const maxAttempts = 20

// userError marks an error that fn decided on (a mutator's, a rule's): it is
// returned as is, never mapped as a database error.
type userError struct{ err error }

func (e userError) Error() string { return e.err.Error() }
func (e userError) Unwrap() error { return e.err }

// user marks err as the caller's to see as it is.
func user(err error) error {
	if err == nil {
		return nil
	}
	return userError{err}
}

// write runs fn in a write transaction, appends the changes it announced to
// the outbox and commits; it runs fn again when the transaction lost a race.
// Errors fn marks with user are returned unwrapped; others are database
// errors.
func (s *Store) write(ctx context.Context, fn func(*tx) error) error {
	for attempt := 1; ; attempt++ {
		seq, misses, err := s.writeOnce(ctx, fn)
		if len(misses) > 0 {
			s.keep(ctx, misses)
		}
		if err == nil {
			if seq > 0 {
				s.Wake()
			}
			return nil
		}
		var ue userError
		if errors.As(err, &ue) {
			return ue.err
		}
		class, _ := s.d.Classify(err)
		if (errors.Is(err, errRace) || class == ErrRetry) && attempt < maxAttempts && ctx.Err() == nil {
			if attempt > 1 {
				// Writers that keep losing to each other on one row fall
				// out of step: a short random wait, longer each time.
				select {
				case <-time.After(time.Duration(rand.Int64N(int64(attempt) * int64(200*time.Microsecond)))):
				case <-ctx.Done():
				}
			}
			continue
		}
		return s.dbErr(ctx, err)
	}
}

func (s *Store) writeOnce(ctx context.Context, fn func(*tx) error) (seq int64, misses []string, err error) {
	sqlTx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, nil, err
	}
	t := &tx{s: s, ctx: ctx, tx: sqlTx}
	defer func() {
		if err != nil {
			_ = sqlTx.Rollback()
		}
	}()
	if err := fn(t); err != nil {
		return 0, t.misses, err
	}
	if len(t.changes) > 0 {
		if seq, err = t.flush(); err != nil {
			return 0, t.misses, err
		}
	}
	return seq, t.misses, sqlTx.Commit()
}

// flush takes the next sequence numbers and writes the changes to the
// outbox. Taking them locks the feed row until commit, so it comes last.
func (t *tx) flush() (int64, error) {
	if t.s.d.Flush != nil {
		return t.s.d.Flush(t.ctx, t.tx, t.changes, t.s.now().UnixMilli())
	}
	var last int64
	n := int64(len(t.changes))
	if err := t.queryRow("UPDATE feed SET seq = seq + ? WHERE one = 1 RETURNING seq", n).Scan(&last); err != nil {
		return 0, err
	}
	at := t.s.now().UnixMilli()
	rows := make([][]any, len(t.changes))
	for i, c := range t.changes {
		deleted := 0
		if c.Deleted {
			deleted = 1
		}
		rows[i] = []any{last - n + 1 + int64(i), at, int(c.Kind), deleted, c.Consumer, c.ID}
	}
	if err := t.insert("changes", []string{"seq", "at_ms", "kind", "deleted", "consumer", "id"}, rows); err != nil {
		return 0, err
	}
	return last, nil
}

// read runs fn in a transaction that sees the database at one instant.
func (s *Store) read(ctx context.Context, fn func(*sql.Tx) error) error {
	sqlTx, err := s.r.BeginTx(ctx, s.d.ReadTx)
	if err != nil {
		return s.dbErr(ctx, err)
	}
	defer func() { _ = sqlTx.Rollback() }()
	if err := fn(sqlTx); err != nil {
		var ue userError
		if errors.As(err, &ue) {
			return ue.err
		}
		return s.dbErr(ctx, err)
	}
	return nil
}

// pruneLoop prunes the outbox every minute until Close.
func (s *Store) pruneLoop() {
	defer s.bg.Done()
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_ = s.Prune(ctx)
		cancel()
		select {
		case <-s.done:
			return
		case <-t.C:
		}
	}
}

// Prune deletes the outbox rows beyond the last KeepChanges or older than
// KeepFor. The store runs it every minute.
func (s *Store) Prune(ctx context.Context) error {
	cutoff := s.now().Add(-s.keepFor).UnixMilli()
	_, err := s.w.ExecContext(ctx, s.q("DELETE FROM changes WHERE seq <= (SELECT seq FROM feed WHERE one = 1) - ? OR at_ms < ?"), s.keepN, cutoff)
	return s.dbErr(ctx, err)
}
