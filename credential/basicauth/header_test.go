package basicauth_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/credential/basicauth"
)

func TestParseHeader(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tt := range []struct {
		name, value, user, pass string
		err                     error
	}{
		{"plain", "Basic " + b64("alice:s3cret"), "alice", "s3cret", nil},
		{"lower case", "basic " + b64("alice:s3cret"), "alice", "s3cret", nil},
		{"mixed case", "bAsIc " + b64("alice:s3cret"), "alice", "s3cret", nil},
		{"tab and spaces", "Basic \t " + b64("alice:s3cret") + "  ", "alice", "s3cret", nil},
		{"first colon splits", "Basic " + b64("a:b:c:"), "a", "b:c:", nil},
		{"empty password", "Basic " + b64("alice:"), "alice", "", nil},
		{"empty username", "Basic " + b64(":pw"), "", "pw", nil},
		{"no padding", "Basic " + strings.TrimRight(b64("alice:s3"), "="), "alice", "s3", nil},
		{"one padding char missing", "Basic " + strings.TrimSuffix(b64("alice:s3"), "="), "alice", "s3", nil},
		{"unicode", "Basic " + b64("jöns:pässwörd"), "jöns", "pässwörd", nil},
		{"binary password", "Basic " + b64("u:\x00\xff\n"), "u", "\x00\xff\n", nil},
		{"empty", "", "", "", basicauth.ErrNotBasic},
		{"bearer", "Bearer abc", "", "", basicauth.ErrNotBasic},
		{"digest", "Digest username=\"a\"", "", "", basicauth.ErrNotBasic},
		{"scheme glued to token", "Basic" + b64("a:b"), "", "", basicauth.ErrNotBasic},
		{"short", "Bas", "", "", basicauth.ErrNotBasic},
		{"scheme alone", "Basic", "", "", basicauth.ErrMalformed},
		{"scheme and spaces", "Basic   ", "", "", basicauth.ErrMalformed},
		{"bad character", "Basic YWxp*2U6cw==", "", "", basicauth.ErrMalformed},
		{"inner space", "Basic YWxp Y2U6cw==", "", "", basicauth.ErrMalformed},
		{"wrong padding", "Basic YQ=", "", "", basicauth.ErrMalformed},
		{"no colon", "Basic " + b64("alice"), "", "", basicauth.ErrMalformed},
		{"too long", "Basic " + b64("a:"+strings.Repeat("x", 3072)), "", "", basicauth.ErrMalformed},
		{"longest", "Basic " + b64("a:"+strings.Repeat("x", 3071)), "a", strings.Repeat("x", 3071), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			user, pass, err := basicauth.ParseHeader(tt.value)
			require.ErrorIs(t, err, tt.err)
			require.Equal(t, tt.user, user)
			require.Equal(t, tt.pass, pass)
		})
	}
}
