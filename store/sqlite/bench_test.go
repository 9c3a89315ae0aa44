package sqlite_test

import (
	"path/filepath"
	"strconv"
	"testing"

	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/sqlite"
)

func BenchmarkPutRoute(b *testing.B) {
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "b.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for i := 0; b.Loop(); i++ {
		id := "r" + strconv.Itoa(i)
		if _, _, err := s.PutRoute(b.Context(), id, func(*route.Route) (*route.Route, error) { return &route.Route{ID: id}, nil }); err != nil {
			b.Fatal(err)
		}
	}
}
