package sqlstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
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
		if m.version <= have {
			continue
		}
		if m.sql != "" {
			if _, err := sqlTx.ExecContext(ctx, m.sql); err != nil {
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
