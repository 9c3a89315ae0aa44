package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
)

// migrations are the schema's versions: migrations/NNNN_name.sql, applied in
// order, each once, recorded in schema_migrations. A file named
// NNNN_name.DIALECT.sql holds the version for that dialect only; for the
// others it is recorded with nothing to do, so that versions mean the same
// everywhere.
//
//go:embed migrations/*.sql
var migrations embed.FS

// migration is one version of the schema.
type migration struct {
	version int
	name    string
	sql     string // empty: nothing to do for this dialect
	// after, when not nil, runs once the migration's SQL has, in its
	// transaction.
	after func(s *Store, ctx context.Context, tx *sql.Tx) error
}

// steps are the parts of migrations written in Go, by version.
var steps = map[int]func(s *Store, ctx context.Context, tx *sql.Tx) error{
	3: (*Store).fillColumns,
}

// loadMigrations returns the embedded migrations in order, with the
// dialect's types in place.
func (s *Store) loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	byVersion := map[int]migration{}
	for _, e := range entries {
		num, rest, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(rest, ".sql") {
			return nil, fmt.Errorf("sqlstore: migration %q is not named NNNN_name.sql", e.Name())
		}
		text := ""
		base, only, dialectOnly := strings.Cut(strings.TrimSuffix(rest, ".sql"), ".")
		if !dialectOnly || only == s.d.Name {
			b, err := migrations.ReadFile("migrations/" + e.Name())
			if err != nil {
				return nil, err
			}
			text = string(b)
			for k, typ := range s.d.Types {
				text = strings.ReplaceAll(text, "{{"+k+"}}", typ)
			}
			if i := strings.Index(text, "{{"); i >= 0 {
				return nil, fmt.Errorf("sqlstore: migration %q: no type for %s", e.Name(), text[i:min(len(text), i+12)])
			}
		}
		m, seen := byVersion[v]
		switch {
		case !seen:
			byVersion[v] = migration{version: v, name: num + "_" + base, sql: text}
		case m.sql != "" && text != "":
			return nil, fmt.Errorf("sqlstore: two migrations %04d for %s", v, s.d.Name)
		case text != "":
			m.sql = text
			byVersion[v] = m
		}
	}
	var out []migration
	for _, m := range byVersion {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("sqlstore: migration %04d is missing", i+1)
		}
		out[i].after = steps[m.version]
	}
	return out, nil
}

// migrate applies the migrations the database lacks, in one transaction
// (a write transaction: instances opening the same database at once apply
// them one after the other, and the later ones find nothing to do).
func (s *Store) migrate(ctx context.Context) error {
	ms, err := s.loadMigrations()
	if err != nil {
		return err
	}
	sqlTx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.dbErr(ctx, err)
	}
	defer func() { _ = sqlTx.Rollback() }()
	if s.d.LockMigrations != nil {
		if err := s.d.LockMigrations(ctx, sqlTx); err != nil {
			return s.dbErr(ctx, fmt.Errorf("lock the schema: %w", err))
		}
	}
	if _, err := sqlTx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_ms BIGINT NOT NULL
)`); err != nil {
		return s.dbErr(ctx, fmt.Errorf("create schema_migrations: %w", err))
	}
	var have int
	if err := sqlTx.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&have); err != nil {
		return s.dbErr(ctx, err)
	}
	if latest := ms[len(ms)-1].version; have > latest {
		return fmt.Errorf("store: %s: the schema is at version %d, newer than this build knows (%d)", s.d.Name, have, latest)
	}
	for _, m := range ms {
		if m.version <= have || s.upTo > 0 && m.version > s.upTo {
			continue
		}
		if m.sql != "" {
			if _, err := sqlTx.ExecContext(ctx, m.sql); err != nil {
				return s.dbErr(ctx, fmt.Errorf("migration %s: %w", m.name, err))
			}
		}
		if m.after != nil {
			if err := m.after(s, ctx, sqlTx); err != nil {
				return s.dbErr(ctx, fmt.Errorf("migration %s: %w", m.name, err))
			}
		}
		if _, err := sqlTx.ExecContext(ctx, s.q("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)"),
			m.version, m.name, s.now().UnixMilli()); err != nil {
			return s.dbErr(ctx, err)
		}
	}
	return s.dbErr(ctx, sqlTx.Commit())
}

// fillColumns is the Go part of migration 0003: the rows of consumers and
// credentials whose columns are not filled yet (created_at is NULL: every
// row in SQLite, none in PostgreSQL, whose SQL fills them) get them from
// their documents, written as a write today would.
func (s *Store) fillColumns(ctx context.Context, tx *sql.Tx) error {
	err := fillFromDocs(s, ctx, tx, consumers, "username, doc", func(row []string) (*consumer.Consumer, error) {
		c := new(consumer.Consumer)
		return c, json.Unmarshal([]byte(row[1]), c)
	})
	if err != nil {
		return err
	}
	return fillFromDocs(s, ctx, tx, credentials, "consumer, id, lookup, doc", func(row []string) (*credential.Credential, error) {
		c := &credential.Credential{}
		err := json.Unmarshal([]byte(row[3]), c)
		c.Consumer, c.Lookup = row[0], row[2]
		return c, err
	})
}

// fillFromDocs reads cols of k's rows whose created_at is NULL, builds
// their objects with legacy and writes k's columns from them.
func fillFromDocs[T any](s *Store, ctx context.Context, tx *sql.Tx, k *kind[T], cols string, legacy func(row []string) (*T, error)) error {
	rows, err := tx.QueryContext(ctx, "SELECT "+cols+" FROM "+k.table+" WHERE created_at IS NULL")
	if err != nil {
		return err
	}
	var all [][]string
	n := len(strings.Split(cols, ", "))
	for rows.Next() {
		row := make([]string, n)
		dest := make([]any, n)
		for i := range row {
			dest[i] = &row[i]
		}
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return err
		}
		all = append(all, row)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(all) == 0 {
		return nil
	}
	set := make([]string, len(k.cols))
	for i, c := range k.cols {
		set[i] = c + " = ?"
	}
	st, err := tx.PrepareContext(ctx, s.q("UPDATE "+k.table+" SET "+strings.Join(set, ", ")+" WHERE "+k.where()))
	if err != nil {
		return err
	}
	defer st.Close()
	for _, row := range all {
		v, err := legacy(row)
		if err != nil {
			return fmt.Errorf("decode %s %q: %w", k.what, row[len(k.keys)-1], err)
		}
		vals, err := k.vals(&s.d, v)
		if err != nil {
			return err
		}
		if _, err := st.ExecContext(ctx, append(vals, args(row[:len(k.keys)])...)...); err != nil {
			return err
		}
	}
	return nil
}
