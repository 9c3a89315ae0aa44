package memory_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
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

// A consumer and its first credential are written together; a conflict says
// which rule it breaks, and leaves nothing behind.
func ExampleStore_PutConsumerWithCredential() {
	ctx := context.Background()
	s := memory.New()
	newKey := func(lookup string) store.Mutator[credential.Credential] {
		return func(*credential.Credential) (*credential.Credential, error) {
			return &credential.Credential{Name: "main", Enabled: true, Lookup: lookup}, nil
		}
	}
	newConsumer := func(*consumer.Consumer) (*consumer.Consumer, error) { return &consumer.Consumer{}, nil }

	c, k, err := s.PutConsumerWithCredential(ctx, "alice", newConsumer, "k1", newKey("key-auth:1111"))
	if err != nil {
		panic(err)
	}
	fmt.Println(c.Username, k.Consumer, k.ID)

	// Bob's key would have Alice's lookup: neither Bob nor his key is stored.
	_, _, err = s.PutConsumerWithCredential(ctx, "bob", newConsumer, "k1", newKey("key-auth:1111"))
	var conflict *store.ConflictError
	if errors.As(err, &conflict) {
		fmt.Println(conflict.Rule, conflict.Consumer, errors.Is(err, store.ErrConflict))
	}
	_, err = s.GetConsumer(ctx, "bob")
	fmt.Println(errors.Is(err, store.ErrNotFound))
	// Output:
	// alice alice k1
	// credential lookup bob true
	// true
}
