package sqlstoretest

import (
	"encoding/base64"
	"errors"
	"testing"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/store"
)

// FuzzListCursor feeds list cursors as admin clients send them (?cursor=,
// untrusted) to the lists of the empty store s, which it fills first: a list
// of one order column (consumers) and one of two (QueryCredentials). Each
// call answers a page or store.ErrInvalidCursor, never another error (a 500)
// or a panic; PostgreSQL, which refuses NUL and invalid UTF-8 in text, shows
// a cursor that reaches the database unchecked.
func FuzzListCursor(f *testing.F, s store.Store) {
	for _, u := range []string{"alice", "bob"} {
		if _, _, err := s.PutConsumer(f.Context(), u, set(&consumer.Consumer{Username: u})); err != nil {
			f.Fatal(err)
		}
		if _, _, err := s.PutCredential(f.Context(), u, "k", set(&credential.Credential{ID: "k", Name: "k", Enabled: true,
			Lookup: "key-auth:" + u, AuthorizedEntities: []string{"group_a"}})); err != nil {
			f.Fatal(err)
		}
	}
	enc := base64.RawURLEncoding.EncodeToString
	for _, seed := range []string{"", enc([]byte("alice")), enc([]byte("alice\x00k")), "!!", "%00",
		enc([]byte("a\x00b\x00c")), enc([]byte{0xff, 0xfe}), enc([]byte("al\x00")), enc([]byte("x\x00\xc3"))} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, cursor string) {
		opts := store.ListOptions{Limit: 1, Cursor: cursor}
		if _, err := s.ListConsumers(t.Context(), opts); err != nil && !errors.Is(err, store.ErrInvalidCursor) {
			t.Fatalf("ListConsumers(cursor %q): %v", cursor, err)
		}
		q := store.CredentialQuery{AnyEntity: []string{"group_a"}}
		if _, err := s.QueryCredentials(t.Context(), q, opts); err != nil && !errors.Is(err, store.ErrInvalidCursor) {
			t.Fatalf("QueryCredentials(cursor %q): %v", cursor, err)
		}
	})
}
