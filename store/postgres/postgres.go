// Package postgres is a store.Store in PostgreSQL, shared by every gateway
// instance that opens the same database and schema.
//
// Each write is one transaction that appends its changes to an outbox table
// and NOTIFYs them; every Store keeps one LISTEN connection. A notification
// carries its transaction's changes, which a watcher forwards as they are
// when they follow on from the last it delivered; otherwise it reads the
// outbox after that one (a poll every second covers a lost notification). When the database cannot be
// reached, calls fail with errors matching store.ErrUnavailable, watch
// channels stay open, and once the listener is back every watcher receives
// store.KindReset. See store/internal/sqlstore for the schema.
package postgres

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/gatehousehq/gatehouse/store"
	"github.com/gatehousehq/gatehouse/store/internal/sqlstore"
)

// core is the shared implementation the Store embeds.
type core = sqlstore.Store

// Store is a store.Store kept in PostgreSQL. Open it with Open and Close it
// when done. It is safe for concurrent use.
type Store struct {
	*core
	db     *sql.DB
	cancel context.CancelFunc
	wg     sync.WaitGroup
	log    *slog.Logger
}

var _ store.Store = (*Store)(nil)

// Option configures Open.
type Option func(*options)

type options struct {
	schema         string
	connectTimeout time.Duration
	maxConns       int
	appName        string
	poll           time.Duration
	logger         *slog.Logger
	keepN          int64
	keepFor        time.Duration
	upTo           int // tests: stop the migrations after this version
}

// WithSchema keeps the store's tables in schema (created when missing)
// instead of the connection's default search_path.
func WithSchema(schema string) Option { return func(o *options) { o.schema = schema } }

// WithConnectTimeout bounds every connection attempt (default 2 s): while the
// server is unreachable, calls fail with store.ErrUnavailable within it.
func WithConnectTimeout(d time.Duration) Option { return func(o *options) { o.connectTimeout = d } }

// WithMaxConns bounds the connections of the pool (default 10), besides the
// one LISTEN connection.
func WithMaxConns(n int) Option { return func(o *options) { o.maxConns = n } }

// WithApplicationName sets the connections' application_name (default
// "gatehouse").
func WithApplicationName(name string) Option { return func(o *options) { o.appName = name } }

// WithPoll sets how often watchers read the outbox when no notification woke
// them (default 1 s).
func WithPoll(d time.Duration) Option { return func(o *options) { o.poll = d } }

// WithLogger sets where the listener logs losing and regaining its
// connection (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithChangeRetention sets how much of the change outbox is kept: the last n
// changes and those of the last d (default 100,000 and 10 minutes). A watcher
// that needs a change already pruned receives store.KindReset.
func WithChangeRetention(n int64, d time.Duration) Option {
	return func(o *options) { o.keepN, o.keepFor = n, d }
}

// Open connects to the database dsn names (a postgres:// URL or key=value
// string), applies the migrations it lacks and starts listening for the
// changes of other instances.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o := options{connectTimeout: 2 * time.Second, maxConns: 10, appName: "gatehouse", poll: time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgconn's parse errors leave the password out.
		return nil, fmt.Errorf("store: postgres: %w", err)
	}
	cfg.ConnectTimeout = o.connectTimeout
	cfg.RuntimeParams["application_name"] = o.appName
	if o.schema != "" {
		cfg.RuntimeParams["search_path"] = quoteIdent(o.schema)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(o.maxConns)
	db.SetMaxIdleConns(o.maxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetConnMaxLifetime(30 * time.Minute) // follow a failover or a DNS change

	channel := channelName(o.schema)
	d := dialect
	d.LockMigrations = func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", "gatehouse:"+o.schema); err != nil {
			return err
		}
		if o.schema == "" {
			return nil
		}
		if _, err := tx.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+quoteIdent(o.schema)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "SET LOCAL search_path TO "+quoteIdent(o.schema))
		return err
	}
	d.Flush = func(ctx context.Context, tx *sql.Tx, changes []store.Change, at int64) (int64, error) {
		return flush(ctx, tx, channel, changes, at)
	}
	c, err := sqlstore.New(ctx, d, sqlstore.Config{Writer: db, Reader: db, Poll: o.poll, KeepChanges: o.keepN, KeepFor: o.keepFor, UpTo: o.upTo})
	if err != nil {
		db.Close()
		return nil, err
	}
	lctx, cancel := context.WithCancel(context.Background())
	s := &Store{core: c, db: db, cancel: cancel, log: o.logger}
	s.wg.Add(1)
	go s.listen(lctx, cfg, channel)
	return s, nil
}

// Close stops the listener and the watchers and closes the pool.
func (s *Store) Close() error {
	s.cancel()
	s.wg.Wait()
	s.core.Close()
	return s.db.Close()
}

// listen keeps one LISTEN connection and wakes the watchers on every
// notification. When the connection is lost it reconnects with backoff and,
// having maybe missed notifications, resets every watcher.
func (s *Store) listen(ctx context.Context, cfg *pgx.ConnConfig, channel string) {
	defer s.wg.Done()
	const minBackoff, maxBackoff = 50 * time.Millisecond, 250 * time.Millisecond
	backoff, lost := minBackoff, false
	for ctx.Err() == nil {
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			if _, err = conn.Exec(ctx, "LISTEN "+quoteIdent(channel)); err != nil {
				conn.Close(context.Background())
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !lost {
				s.log.Warn("store: postgres: change listener lost its connection", "err", err)
				lost = true
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = minBackoff
		if lost {
			s.log.Info("store: postgres: change listener reconnected")
			lost = false
			s.core.ResetWatchers()
		}
		s.core.Wake()
		err = s.wait(ctx, conn)
		conn.Close(context.Background())
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("store: postgres: change listener lost its connection", "err", err)
		lost = true
	}
}

// wait wakes the watchers on each notification of conn until it fails. A
// quiet connection is checked every 15 s, so that a silently dead one is
// noticed.
func (s *Store) wait(ctx context.Context, conn *pgx.Conn) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			if first, changes, ok := parseAnnouncement(n.Payload); ok {
				s.core.Announce(first, changes)
			} else {
				s.core.Wake()
			}
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
		default:
			return err
		}
	}
}

// flushQuery takes the transaction's sequence numbers, appends its changes
// to the outbox and notifies the channel, in one round trip.
const flushQuery = `WITH f AS (UPDATE feed SET seq = seq + $1::bigint WHERE one = 1 RETURNING seq),
ins AS (INSERT INTO changes (seq, at_ms, kind, deleted, consumer, id)
	SELECT f.seq - $1::bigint + c.ord, $2, c.kind, c.deleted, c.consumer, c.id
	FROM f, unnest($3::int[], $4::int[], $5::text[], $6::text[]) WITH ORDINALITY AS c (kind, deleted, consumer, id, ord))
SELECT f.seq, pg_notify($7, f.seq::text || $8) IS NULL FROM f`

func flush(ctx context.Context, tx *sql.Tx, channel string, changes []store.Change, at int64) (int64, error) {
	kinds := make([]int32, len(changes))
	deleted := make([]int32, len(changes))
	consumers := make([]string, len(changes))
	ids := make([]string, len(changes))
	for i, c := range changes {
		kinds[i], consumers[i], ids[i] = int32(c.Kind), c.Consumer, c.ID
		if c.Deleted {
			deleted[i] = 1
		}
	}
	var seq int64
	var null bool
	err := tx.QueryRowContext(ctx, flushQuery, int64(len(changes)), at, kinds, deleted, consumers, ids, channel, announcement(changes)).Scan(&seq, &null)
	return seq, err
}

// maxAnnouncement bounds the changes a notification carries: PostgreSQL
// refuses a payload of 8000 bytes or more, and the sequence number comes
// first.
const maxAnnouncement = 7900

// announcement is what a notification carries after the last sequence
// number of its transaction: " " and the changes as JSON
// ([[kind,deleted,"consumer","id"],...]), so that the other instances
// need not read the outbox for them; "" when they do not fit.
func announcement(changes []store.Change) string {
	rows := make([][4]any, len(changes))
	for i, c := range changes {
		deleted := 0
		if c.Deleted {
			deleted = 1
		}
		rows[i] = [4]any{int(c.Kind), deleted, c.Consumer, c.ID}
	}
	b, err := json.Marshal(rows)
	if err != nil || len(b) > maxAnnouncement {
		return ""
	}
	return " " + string(b)
}

// parseAnnouncement reads a notification's payload: the transaction's last
// sequence number and, when it carries them, its changes (ok false for a
// payload without them, or one that does not read).
func parseAnnouncement(payload string) (first int64, changes []store.Change, ok bool) {
	seqText, rest, found := strings.Cut(payload, " ")
	if !found {
		return 0, nil, false
	}
	last, err := strconv.ParseInt(seqText, 10, 64)
	if err != nil {
		return 0, nil, false
	}
	var rows [][4]json.RawMessage
	if err := json.Unmarshal([]byte(rest), &rows); err != nil || len(rows) == 0 {
		return 0, nil, false
	}
	changes = make([]store.Change, len(rows))
	for i, r := range rows {
		var kind, deleted int
		if json.Unmarshal(r[0], &kind) != nil || json.Unmarshal(r[1], &deleted) != nil ||
			json.Unmarshal(r[2], &changes[i].Consumer) != nil || json.Unmarshal(r[3], &changes[i].ID) != nil {
			return 0, nil, false
		}
		changes[i].Kind, changes[i].Deleted = store.Kind(kind), deleted != 0
	}
	return last - int64(len(rows)) + 1, changes, true
}

// channelName is the NOTIFY channel of the store in schema: at most 63 bytes.
func channelName(schema string) string {
	if schema == "" {
		return "gatehouse_changes"
	}
	sum := sha256.Sum256([]byte(schema))
	return "gatehouse_changes_" + hex.EncodeToString(sum[:12])
}

// quoteIdent quotes an SQL identifier.
func quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }

// dialect is PostgreSQL's: $n placeholders, row locks, byte-order text, and
// documents in json columns, kept as the store wrote them (migration 0001
// made them jsonb; 0002 turns them to json, as jsonb reorders keys and
// converts every document read back; nothing queries inside documents);
// repeatable-read snapshots for lists and Snapshot.
var dialect = sqlstore.Dialect{
	Name:      "postgres",
	Numbered:  true,
	ForUpdate: " FOR UPDATE",
	Types:     map[string]string{"text": `TEXT COLLATE "C"`, "json": "JSONB"},
	ReadTx:    &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true},
	Classify:  classify,
	// Migrations 0003 and later: consumers' and credentials' columns are
	// boolean, timestamptz and json, which checks its values.
	JSONChecked: true,
	ReadRaw:     readRaw,
	RawBool:     rawBool,
	RawTime:     rawTime,
}

// readRaw runs fn in a repeatable-read, read-only pgx transaction on a
// connection of db, its rows in the binary format: Snapshot reads a million
// rows without database/sql's conversion of every value.
func readRaw(ctx context.Context, db *sql.DB, fn func(sqlstore.RawQuery) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		tx, err := pc.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
		return fn(func(ctx context.Context, query string, args ...any) (sqlstore.RawRows, error) {
			rows, err := tx.Query(ctx, query, append([]any{binaryResults}, args...)...)
			if err != nil {
				return nil, err
			}
			return rawRows{rows}, nil
		})
	})
}

// binaryResults asks for every column in the binary format: text and json
// as they are, booleans in a byte, timestamptz in 8 (see rawTime).
var binaryResults = pgx.QueryResultFormats{pgx.BinaryFormatCode}

// rawRows are pgx rows as sqlstore.RawRows.
type rawRows struct{ pgx.Rows }

func (r rawRows) Close() { r.Rows.Close() }

var errRawValue = errors.New("unexpected binary value")

func rawBool(b []byte) (bool, error) {
	if len(b) != 1 {
		return false, errRawValue
	}
	return b[0] != 0, nil
}

// y2k is where PostgreSQL's binary timestamps count from, in microseconds
// since the Unix epoch.
const y2k = 946_684_800 * 1_000_000

// rawTime decodes a binary timestamptz: microseconds since 2000-01-01 UTC.
func rawTime(b []byte) (time.Time, error) {
	if len(b) != 8 {
		return time.Time{}, errRawValue
	}
	us := int64(binary.BigEndian.Uint64(b)) + y2k
	return time.UnixMicro(us).UTC(), nil
}

func classify(err error) (sqlstore.ErrorClass, string) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505":
			return sqlstore.ErrUnique, pgErr.ConstraintName
		case pgErr.Code == "23503":
			return sqlstore.ErrForeignKey, pgErr.ConstraintName
		case pgErr.Code == "40001" || pgErr.Code == "40P01":
			return sqlstore.ErrRetry, ""
		case pgErr.Code[:2] == "08", pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03", pgErr.Code == "53300":
			return sqlstore.ErrUnavailable, ""
		}
		return sqlstore.ErrOther, ""
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed), errors.Is(err, pgconn.ErrConnClosed),
		pgconn.Timeout(err), pgconn.SafeToRetry(err):
		return sqlstore.ErrUnavailable, ""
	}
	return sqlstore.ErrOther, ""
}
