// Package sqlite is a persistent store.Store in one SQLite file, for a single
// gateway process that must keep its configuration across restarts (no cgo).
//
// The file is opened in WAL mode with foreign keys on. Writes go through one
// connection, each an immediate transaction; reads use a small pool of their
// own. Watch is served in process: a commit wakes the watchers, which read
// the change outbox the write appended to (see store/internal/sqlstore).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"time"

	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"

	"github.com/gatehousehq/gatehouse/store"
	"github.com/gatehousehq/gatehouse/store/internal/sqlstore"
)

// core is the shared implementation the Store embeds.
type core = sqlstore.Store

// Store is a store.Store kept in a SQLite file. Open it with Open and Close it
// when done. It is safe for concurrent use.
type Store struct {
	*core
	writer, reader *sql.DB
}

var _ store.Store = (*Store)(nil)

// Option configures Open.
type Option func(*options)

type options struct {
	busyTimeout time.Duration
	readers     int
	keepN       int64
	keepFor     time.Duration
	upTo        int // tests: stop the migrations after this version
}

// WithBusyTimeout sets how long a statement waits for a lock another
// connection (or process) holds before failing with store.ErrUnavailable
// (default 5 s).
func WithBusyTimeout(d time.Duration) Option { return func(o *options) { o.busyTimeout = d } }

// WithReaders sets how many connections serve reads at once (default 4).
func WithReaders(n int) Option { return func(o *options) { o.readers = n } }

// WithChangeRetention sets how much of the change outbox is kept: the last n
// changes and those of the last d (default 100,000 and 10 minutes). A watcher
// that needs a change already pruned receives store.KindReset.
func WithChangeRetention(n int64, d time.Duration) Option {
	return func(o *options) { o.keepN, o.keepFor = n, d }
}

// Open opens the SQLite database at path, creating it when missing (mode
// 0600: it holds password hashes and key digests), and applies the
// migrations it lacks.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	o := options{busyTimeout: 5 * time.Second, readers: 4}
	for _, opt := range opts {
		opt(&o)
	}
	if path == "" {
		return nil, errors.New("store: sqlite: empty path")
	}
	// A new database is readable by its owner only: it holds password
	// hashes and key digests. SQLite gives its -wal and -shm files the
	// database's permissions.
	if path != ":memory:" {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		switch {
		case err == nil:
			f.Close()
		case !errors.Is(err, fs.ErrExist):
			return nil, fmt.Errorf("store: sqlite: create %s: %w", path, err)
		}
	}
	q := url.Values{}
	for _, p := range []string{
		fmt.Sprintf("busy_timeout(%d)", o.busyTimeout.Milliseconds()),
		"journal_mode(WAL)",
		"foreign_keys(1)",
		"synchronous(NORMAL)",
	} {
		q.Add("_pragma", p)
	}
	// The path is a file: URI's: the characters URIs give a meaning to are
	// escaped.
	dsn := "file:" + strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path) + "?" + q.Encode()
	// Several processes (or Stores) opening one new file at once: switching
	// it to WAL and the first migration's lock can answer SQLITE_BUSY at
	// once, without waiting for busy_timeout (SQLite does so where waiting
	// could deadlock). Try again until the busy timeout has passed.
	deadline := time.Now().Add(o.busyTimeout)
	for {
		s, err := open(ctx, dsn, o)
		if err == nil || !strings.Contains(err.Error(), "SQLITE_BUSY") || time.Now().After(deadline) {
			return s, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// open makes the Store once (Open retries it).
func open(ctx context.Context, dsn string, o options) (*Store, error) {
	writer, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: %w", err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetConnMaxIdleTime(0)
	reader, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("store: sqlite: %w", err)
	}
	reader.SetMaxOpenConns(max(1, o.readers))
	s, err := sqlstore.New(ctx, dialect, sqlstore.Config{Writer: writer, Reader: reader, KeepChanges: o.keepN, KeepFor: o.keepFor, UpTo: o.upTo})
	if err != nil {
		writer.Close()
		reader.Close()
		return nil, err
	}
	return &Store{core: s, writer: writer, reader: reader}, nil
}

// Close stops the watchers and closes the database.
func (s *Store) Close() error {
	s.core.Close()
	return errors.Join(s.reader.Close(), s.writer.Close())
}

// dialect is SQLite's: ? placeholders, one writer (so no row locks), TEXT for
// documents as written and for instants (RFC 3339), INTEGER for booleans.
var dialect = sqlstore.Dialect{
	Name:          "sqlite",
	PrepareWrites: true,
	Types:         map[string]string{"text": "TEXT", "json": "TEXT"},
	TimeText:      true,
	Classify:      classify,
}

// uniqueIndexes maps the columns SQLite names in a unique violation to the
// index the migrations created on them.
var uniqueIndexes = map[string]string{
	"credentials.consumer, credentials.name":           "credentials_name",
	"credentials.lookup":                               "credentials_lookup",
	"consumer_groups.gateway_id, consumer_groups.name": "consumer_groups_name",
}

func classify(err error) (sqlstore.ErrorClass, string) {
	var e *sqlite3.Error
	if !errors.As(err, &e) {
		return sqlstore.ErrOther, ""
	}
	switch e.Code() {
	case sqlite3lib.SQLITE_CONSTRAINT_UNIQUE, sqlite3lib.SQLITE_CONSTRAINT_PRIMARYKEY:
		msg := e.Error()
		cols := msg[strings.LastIndex(msg, "constraint failed: ")+len("constraint failed: "):]
		cols, _, _ = strings.Cut(cols, " (")
		return sqlstore.ErrUnique, uniqueIndexes[cols]
	case sqlite3lib.SQLITE_CONSTRAINT_FOREIGNKEY:
		return sqlstore.ErrForeignKey, ""
	}
	switch e.Code() & 0xff {
	case sqlite3lib.SQLITE_BUSY, sqlite3lib.SQLITE_LOCKED, sqlite3lib.SQLITE_CANTOPEN, sqlite3lib.SQLITE_IOERR, sqlite3lib.SQLITE_FULL:
		return sqlstore.ErrUnavailable, ""
	}
	return sqlstore.ErrOther, ""
}
