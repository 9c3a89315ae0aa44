package hmacauth

import (
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/internal/unsafestr"
)

// Authenticator is the compiled hmac-auth plugin of one route.
type Authenticator struct {
	algs      algSet
	skew      int64 // seconds; 0 disables the clock check
	signed    []string
	body      bool
	maxBody   int64
	replay    bool
	hide      bool
	anonymous string
	missing   *credential.AuthError
	invalid   *credential.AuthError
	tooLarge  *credential.AuthError
	now       func() time.Time
	log       *slog.Logger
	cache     *replayCache
	store     ReplayStore // nil: the process's cache only
}

// Name returns "hmac-auth".
func (a *Authenticator) Name() string { return Name }

// AnonymousConsumer returns the consumer a failed request runs as, or "".
func (a *Authenticator) AnonymousConsumer() string { return a.anonymous }

// InvalidError is the failure for a consumer that cannot be used (the
// anonymous consumer missing, for example).
func (a *Authenticator) InvalidError() *credential.AuthError { return a.invalid }

// Authenticate verifies the request's signature: the Authorization: Signature
// header when there is one, else the RFC 9421 Signature-Input and Signature
// headers. It returns the credential named by the signature's key id, or a
// *credential.AuthError: 401 for any failure (Missing when the request carries
// neither form), 413 when a body that must be checked exceeds max_req_body.
func (a *Authenticator) Authenticate(r *http.Request, idx *credential.Index) (*credential.Match, error) {
	if v := r.Header["Authorization"]; len(v) > 0 {
		if params, ok := cutSignatureScheme(v[0]); ok {
			m, err := a.verifyCavage(r, idx, params)
			if err == nil && a.hide {
				delete(r.Header, "Authorization")
			}
			return m, err
		}
	}
	if v := r.Header["Signature-Input"]; len(v) > 0 {
		m, err := a.verifyRFC9421(r, idx, v[0])
		if err == nil && a.hide {
			delete(r.Header, "Signature-Input")
			delete(r.Header, "Signature")
		}
		return m, err
	}
	return nil, a.missing
}

// fail logs why a request was refused (at debug level) and returns the
// client-facing error.
func (a *Authenticator) fail(r *http.Request, reason, keyID string) error {
	if a.log.Enabled(r.Context(), slog.LevelDebug) {
		a.log.LogAttrs(context.WithoutCancel(r.Context()), slog.LevelDebug, "hmac-auth: request refused",
			slog.String("reason", reason), slog.String("key_id", keyID),
			slog.String("method", r.Method), slog.String("path", r.URL.Path))
	}
	return a.invalid
}

// find returns the active credential of keyID and its secret.
func (a *Authenticator) find(idx *credential.Index, keyID string) (*credential.Match, *secretKey, string) {
	if keyID == "" || len(keyID) > MaxKeyIDLen {
		return nil, nil, "bad key id"
	}
	var buf [len(lookupPrefix) + MaxKeyIDLen]byte
	n := copy(buf[:], lookupPrefix)
	n += copy(buf[n:], keyID)
	m, ok := idx.Find(buf[:n])
	if !ok || m.Credential == nil {
		return nil, nil, "unknown key id"
	}
	c := m.Credential
	if !c.Usable(a.now) {
		return nil, nil, "credential disabled or expired"
	}
	secret, ok := m.Secret.(*secretKey)
	if !ok || secret == nil {
		return nil, nil, "credential has no usable secret"
	}
	return m, secret, ""
}

// within reports whether t (unix seconds) is within the clock skew of now.
func (a *Authenticator) within(now, t int64) bool {
	d := now - t
	return d <= a.skew && -d <= a.skew
}

var (
	stdStrict = base64.StdEncoding.Strict()
	rawStrict = base64.RawStdEncoding.Strict()
)

// decodeSig decodes a base64 (standard alphabet, padding optional, unused
// bits zero) signature into dst, which has room for want+3 bytes, and reports
// whether it had the expected length.
func decodeSig(dst []byte, s string, want int) bool {
	if base64.StdEncoding.EncodedLen(want) == len(s) {
		n, err := stdStrict.Decode(dst, unsafestr.Bytes(s))
		return err == nil && n == want
	}
	if base64.RawStdEncoding.EncodedLen(want) == len(s) {
		n, err := rawStrict.Decode(dst, unsafestr.Bytes(s))
		return err == nil && n == want
	}
	return false
}

// headerValue appends to buf the value of the header called name (any case),
// its several lines joined by ", " (each trimmed) as in a signature, and
// reports whether it is present. Host is the request's host.
func headerValue(r *http.Request, name string, buf []byte) ([]byte, bool) {
	if strings.EqualFold(name, "host") {
		return append(buf, r.Host...), r.Host != ""
	}
	var key [128]byte
	if len(name) > len(key) {
		return buf, false
	}
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if upper && c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		key[i] = c
		upper = c == '-'
	}
	vs, ok := r.Header[string(key[:len(name)])]
	if !ok || len(vs) == 0 {
		return buf, false
	}
	for i, v := range vs {
		if i > 0 {
			buf = append(buf, ", "...)
		}
		buf = append(buf, trimOWS(v)...)
	}
	return buf, true
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// requestURI returns the request target as sent: path and query.
func requestURI(r *http.Request) string {
	if u := r.RequestURI; u != "" && u[0] == '/' {
		return u
	}
	return r.URL.RequestURI()
}

// parseDate reads an HTTP date to unix seconds: IMF-fixdate
// ("Sun, 06 Nov 1994 08:49:37 GMT") by hand, the obsolete forms with
// http.ParseTime.
func parseDate(s string) (int64, bool) {
	if t, ok := parseIMFFixdate(s); ok {
		return t, true
	}
	t, err := http.ParseTime(s)
	if err != nil {
		return 0, false
	}
	return t.Unix(), true
}

// parseIMFFixdate reads "Sun, 06 Nov 1994 08:49:37 GMT" without time.Parse.
// The day name must be one, but as with time.Parse it need not be the
// date's.
func parseIMFFixdate(s string) (int64, bool) {
	if len(s) != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
		s[19] != ':' || s[22] != ':' || s[25:] != " GMT" {
		return 0, false
	}
	num := func(b string) (int, bool) {
		n := 0
		for i := 0; i < len(b); i++ {
			if !isDigit(b[i]) {
				return 0, false
			}
			n = n*10 + int(b[i]-'0')
		}
		return n, true
	}
	day, ok1 := num(s[5:7])
	year, ok2 := num(s[12:16])
	hour, ok3 := num(s[17:19])
	minute, ok4 := num(s[20:22])
	sec, ok5 := num(s[23:25])
	month := strings.Index("JanFebMarAprMayJunJulAugSepOctNovDec", s[8:11])
	if wd := strings.Index("MonTueWedThuFriSatSun", s[:3]); wd < 0 || wd%3 != 0 {
		return 0, false
	}
	if !(ok1 && ok2 && ok3 && ok4 && ok5) || month < 0 || month%3 != 0 || hour > 23 || minute > 59 || sec > 59 || day < 1 {
		return 0, false
	}
	m := time.Month(month/3 + 1)
	if day > daysIn(m, year) {
		return 0, false
	}
	return time.Date(year, m, day, hour, minute, sec, 0, time.UTC).Unix(), true
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
