package credential

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"time"
)

// Usable reports whether c may authenticate a request now. It reads the clock
// only when the credential has an expiry, which keeps the common case off the
// clock on the request path.
func (c *Credential) Usable(now func() time.Time) bool {
	return c.Enabled && (c.ExpiresAt == nil || c.Active(now()))
}

// ValidHeaderName reports whether s is a valid HTTP header field name (an
// RFC 9110 token), as the schemes' header settings must be.
func ValidHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		if !IsTokenChar(s[i]) {
			return false
		}
	}
	return s != ""
}

// IsTokenChar reports whether c may appear in an RFC 9110 token.
func IsTokenChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// ErrBadRealm is returned by Challenge for a realm that cannot be quoted as is.
var ErrBadRealm = errors.New("must not contain quotes, backslashes or line breaks")

// Challenge returns the WWW-Authenticate value `<scheme> realm="<realm>"`,
// with def as the realm when realm is empty. A realm with a quote, a
// backslash or a line break would break (or inject into) the header: it is
// refused with ErrBadRealm, for the caller to report on its realm setting.
func Challenge(scheme, realm, def string) (string, error) {
	if realm == "" {
		realm = def
	} else if strings.ContainsAny(realm, "\"\\\r\n") {
		return "", ErrBadRealm
	}
	return scheme + ` realm="` + realm + `"`, nil
}

// RandomSecret returns n random bytes, base64url-encoded without padding: the
// form of every secret Gatehouse generates.
func RandomSecret(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}
