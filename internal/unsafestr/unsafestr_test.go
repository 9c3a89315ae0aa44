package unsafestr_test

import (
	"testing"

	"github.com/gatehousehq/gatehouse/internal/unsafestr"
)

func TestBytes(t *testing.T) {
	for _, s := range []string{"", "a", "ghk_0123456789"} {
		if got := string(unsafestr.Bytes(s)); got != s {
			t.Fatalf("Bytes(%q) = %q", s, got)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = unsafestr.Bytes("no copy, no allocation") }); n != 0 {
		t.Fatalf("Bytes allocated %v times", n)
	}
}
