package postgres_test

import (
	"testing"

	"github.com/gatehousehq/gatehouse/internal/testenv"
	"github.com/gatehousehq/gatehouse/store/internal/sqlstore/sqlstoretest"
	"github.com/gatehousehq/gatehouse/store/postgres"
)

// FuzzListCursor: untrusted list cursors answer a page or
// store.ErrInvalidCursor, PostgreSQL's refusal of NUL and invalid UTF-8
// included (sqlstoretest.FuzzListCursor).
func FuzzListCursor(f *testing.F) {
	dsn, schema := testenv.PostgresSchema(f)
	s, err := postgres.Open(f.Context(), dsn, postgres.WithSchema(schema))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	sqlstoretest.FuzzListCursor(f, s)
}
