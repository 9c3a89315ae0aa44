package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/gatehousehq/gatehouse/store/internal/sqlstore/sqlstoretest"
	"github.com/gatehousehq/gatehouse/store/sqlite"
)

// FuzzListCursor: untrusted list cursors answer a page or
// store.ErrInvalidCursor (sqlstoretest.FuzzListCursor).
func FuzzListCursor(f *testing.F) {
	s, err := sqlite.Open(f.Context(), filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	sqlstoretest.FuzzListCursor(f, s)
}
