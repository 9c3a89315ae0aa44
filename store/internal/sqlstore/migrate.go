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
// order, each once, recorded in schema_migrations.
//
//go:embed migrations/*.sql
var migrations embed.FS

// migration is one version of the schema.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations returns the embedded migrations in order, with the
// dialect's types in place.
func (s *Store) loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("sqlstore: migration %q is not named NNNN_name.sql", e.Name())
		}
		b, err := migrations.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		text := string(b)
		for k, typ := range s.d.Types {
			text = strings.ReplaceAll(text, "{{"+k+"}}", typ)
		}
		if i := strings.Index(text, "{{"); i >= 0 {
			return nil, fmt.Errorf("sqlstore: migration %q: no type for %s", e.Name(), text[i:min(len(text), i+12)])
		}
		out = append(out, migration{version: v, name: e.Name(), sql: text})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
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
		if _, err := sqlTx.ExecContext(ctx, m.sql); err != nil {
			return s.dbErr(ctx, fmt.Errorf("migration %s: %w", m.name, err))
		}
		if _, err := sqlTx.ExecContext(ctx, s.q("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)"),
			m.version, m.name, s.now().UnixMilli()); err != nil {
			return s.dbErr(ctx, err)
		}
	}
	return s.dbErr(ctx, sqlTx.Commit())
}
