package sqlite_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/store/sqlite"
)

// A configuration kept in a file outlives the process that wrote it.
func Example() {
	dir, err := os.MkdirTemp("", "gatehouse")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "gatehouse.db")
	ctx := context.Background()

	s, err := sqlite.Open(ctx, path)
	if err != nil {
		log.Fatal(err)
	}
	_, created, err := s.PutConsumer(ctx, "alice", func(*consumer.Consumer) (*consumer.Consumer, error) {
		return &consumer.Consumer{Desc: "first user"}, nil
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created:", created)
	s.Close()

	s, err = sqlite.Open(ctx, path) // a restart
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	c, err := s.GetConsumer(ctx, "alice")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Username+":", c.Desc)
	// Output:
	// created: true
	// alice: first user
}
