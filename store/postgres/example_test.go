package postgres_test

import (
	"context"
	"fmt"
	"log"

	"github.com/gatehousehq/gatehouse/route"
	"github.com/gatehousehq/gatehouse/store/postgres"
)

// Every instance opens the same database; a write through one reaches the
// watchers of all of them.
func Example() {
	ctx := context.Background()
	s, err := postgres.Open(ctx, "postgres://gatehouse@db.internal:5432/gatehouse?sslmode=verify-full",
		postgres.WithSchema("gatehouse"))
	if err != nil {
		log.Fatal(err) // an unreachable server: errors.Is(err, store.ErrUnavailable)
	}
	defer s.Close()

	changes, err := s.Watch(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if _, _, err := s.PutRoute(ctx, "orders", func(*route.Route) (*route.Route, error) {
		return &route.Route{Frontend: route.Frontend{Paths: []string{"/orders"}}}, nil
	}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-changes)
}
