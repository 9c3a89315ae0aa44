package memory_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/gatehousehq/gatehouse/store/memory"
)

func Example() {
	ctx := context.Background()
	s := memory.New()

	// PutConsumer's mutator gets the current consumer (nil: it does not exist
	// yet) and returns the new one; the store sets the timestamps.
	c, created, err := s.PutConsumer(ctx, "alice", func(cur *consumer.Consumer) (*consumer.Consumer, error) {
		if cur == nil {
			cur = &consumer.Consumer{Username: "alice"}
		}
		cur.Labels = map[string]string{"team": "payments"}
		return cur, nil
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(c.Username, created, c.CreatedAt.Equal(c.UpdatedAt))

	got, err := s.GetConsumer(ctx, "alice")
	if err != nil {
		panic(err)
	}
	fmt.Println(got.Labels["team"])

	_, err = s.GetConsumer(ctx, "bob")
	fmt.Println(errors.Is(err, store.ErrNotFound))
	// Output:
	// alice true true
	// payments
	// true
}
