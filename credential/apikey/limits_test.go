package apikey_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/credential/apikey"
)

// TestCredentialLengthCaps: a clientId of MaxClientIDLen and a secret of
// MaxSecretLen authenticate from headers and from Authorization: Basic (whose
// decoded value is then exactly as long as it may be); one byte more of
// either is 401 bad apikey.
func TestCredentialLengthCaps(t *testing.T) {
	e := newEnv(t)
	id := strings.Repeat("i", apikey.MaxClientIDLen)
	secret := strings.Repeat("s", apikey.MaxSecretLen)
	e.key(t, `{"clientId":"`+id+`","clientSecret":"`+secret+`","clientName":"long"}`)
	for _, tc := range []struct {
		name string
		hdr  []string
		code int
	}{
		{"headers at the caps", pair(id, secret), 200},
		{"basic at the caps", []string{"Authorization", basic(id, secret)}, 200},
		{"headers, clientId one over", pair(id+"i", secret), 401},
		{"headers, secret one over", pair(id, secret+"s"), 401},
		{"basic, clientId one over", []string{"Authorization", basic(id+"i", secret)}, 401},
		{"basic, secret one over", []string{"Authorization", basic(id, secret+"s")}, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.call(t, "open", http.MethodGet, tc.hdr...)
			require.Equal(t, tc.code, res.code, res.body)
			if tc.code == http.StatusOK {
				require.Equal(t, id, res.consumer)
				return
			}
			require.JSONEq(t, msgInvalid, res.body)
		})
	}
}
