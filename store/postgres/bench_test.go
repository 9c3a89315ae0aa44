package postgres_test

import (
	"strconv"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/testenv"
	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/postgres"
)

func BenchmarkPutRoute(b *testing.B) {
	dsn := testenv.Postgres(b)
	s, err := postgres.Open(b.Context(), dsn, postgres.WithSchema(newSchema(b, dsn)))
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
