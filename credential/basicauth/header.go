package basicauth

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/gatehousehq/gatehouse/internal/unsafestr"
)

// Errors of ParseHeader.
var (
	// ErrNotBasic is returned for an empty value or one of another scheme.
	ErrNotBasic = errors.New("basicauth: not Basic credentials")
	// ErrMalformed is returned for Basic credentials that are not the base64
	// of "username:password", or are too long to be any credential's.
	ErrMalformed = errors.New("basicauth: malformed Basic credentials")
)

// maxDecoded is the longest decoded "username:password" a credential can
// have: MaxUsernameLen characters of up to 4 bytes, a colon, MaxPasswordLen
// bytes.
const maxDecoded = 4*MaxUsernameLen + 1 + MaxPasswordLen

// ParseHeader parses the value of an Authorization header holding Basic
// credentials: the scheme word (any case), spaces, then the base64 (standard
// alphabet, padding optional) of "username:password". The username ends at
// the first colon; the password may hold more.
func ParseHeader(v string) (username, password string, err error) {
	tok, ok := basicToken(v)
	if !ok {
		return "", "", ErrNotBasic
	}
	pair, colon, ok := decodePair(tok, nil)
	if !ok {
		return "", "", ErrMalformed
	}
	return string(pair[:colon]), string(pair[colon+1:]), nil
}

// basicToken returns the credentials of an Authorization value of the Basic
// scheme, without the spaces around them; ok is false for another scheme.
func basicToken(v string) (tok string, ok bool) {
	const scheme = "basic"
	if len(v) < len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return "", false
	}
	rest := v[len(scheme):]
	if rest == "" {
		return "", true
	}
	if rest[0] != ' ' && rest[0] != '\t' {
		return "", false // "Basically ...": another scheme
	}
	return strings.Trim(rest, " \t"), true
}

// decodePair decodes tok into dst (grown when too small) and returns the
// decoded "username:password" and the index of its first colon. ok is false
// for bad base64, no colon, or credentials longer than any can be.
func decodePair(tok string, dst []byte) (pair []byte, colon int, ok bool) {
	if tok == "" {
		return nil, 0, false
	}
	enc := base64.StdEncoding
	if len(tok)%4 != 0 {
		enc = base64.RawStdEncoding // lenient: padding left out
	}
	n := enc.DecodedLen(len(tok))
	if n > maxDecoded+2 { // +2: DecodedLen counts padding as data
		return nil, 0, false
	}
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	n, err := enc.Decode(dst[:n], unsafestr.Bytes(tok))
	if err != nil || n > maxDecoded {
		return nil, 0, false
	}
	pair = dst[:n]
	colon = bytes.IndexByte(pair, ':')
	if colon < 0 {
		return nil, 0, false
	}
	return pair, colon, true
}
