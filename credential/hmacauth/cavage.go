package hmacauth

import (
	"crypto/hmac"
	"crypto/sha512"
	"errors"
	"net/http"
	"strings"

	"github.com/gatehousehq/gatehouse/credential"
)

// requestTarget is the pseudo-header of the Authorization: Signature format
// that stands for "METHOD request-uri".
const requestTarget = "@request-target"

// SignatureHeader is a parsed Authorization: Signature header (the APISIX
// format): Signature keyId="…",algorithm="…",headers="…",signature="…".
type SignatureHeader struct {
	// KeyID names the credential (its key_id).
	KeyID string
	// Algorithm is hmac-sha1, hmac-sha256 or hmac-sha512.
	Algorithm string
	// Headers is the space-separated list of signed headers, in signing
	// order; "@request-target" stands for the method and request URI.
	Headers string
	// Signature is the base64 HMAC of the signing string.
	Signature string
}

// Errors of ParseSignatureHeader.
var (
	ErrNotSignature = errors.New("hmac-auth: not a Signature authorization")
	ErrMalformed    = errors.New("hmac-auth: malformed signature header")
)

// cutSignatureScheme returns what follows "Signature " (case-insensitive) in
// an Authorization value.
func cutSignatureScheme(v string) (string, bool) {
	const scheme = "signature"
	if len(v) <= len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) || (v[len(scheme)] != ' ' && v[len(scheme)] != '\t') {
		return "", false
	}
	return v[len(scheme)+1:], true
}

// ParseSignatureHeader parses an Authorization value of the Signature scheme.
// Parameters are name="value" pairs separated by commas (spaces around them
// are ignored); keyId, algorithm and signature are required and non-empty,
// headers is optional. Parameters other than those four are ignored; a
// repeated one is an error. The parser does not allocate: the fields are
// substrings of v.
func ParseSignatureHeader(v string) (SignatureHeader, error) {
	rest, ok := cutSignatureScheme(v)
	if !ok {
		return SignatureHeader{}, ErrNotSignature
	}
	return parseSignatureParams(rest)
}

func parseSignatureParams(s string) (SignatureHeader, error) {
	var h SignatureHeader
	var seen uint8
	for {
		s = trimOWS(s)
		if s == "" {
			break
		}
		// name
		i := 0
		for i < len(s) && s[i] != '=' && s[i] != ',' && s[i] != ' ' && s[i] != '\t' && s[i] != '"' {
			i++
		}
		name := s[:i]
		s = trimOWS(s[i:])
		if name == "" || s == "" || s[0] != '=' {
			return SignatureHeader{}, ErrMalformed
		}
		s = trimOWS(s[1:])
		var val string
		if s != "" && s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return SignatureHeader{}, ErrMalformed
			}
			val, s = s[1:1+end], s[2+end:]
		} else {
			// Unquoted value (a number, in the drafts): up to the next comma.
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			val, s = trimOWS(s[:end]), s[end:]
			if val == "" || strings.ContainsAny(val, "\" \t") {
				return SignatureHeader{}, ErrMalformed
			}
		}
		if strings.ContainsAny(val, "\\\r\n") {
			return SignatureHeader{}, ErrMalformed
		}
		var bit uint8
		switch name {
		case "keyId":
			bit, h.KeyID = 1, val
		case "algorithm":
			bit, h.Algorithm = 2, val
		case "headers":
			bit, h.Headers = 4, val
		case "signature":
			bit, h.Signature = 8, val
		}
		if seen&bit != 0 {
			return SignatureHeader{}, ErrMalformed
		}
		seen |= bit
		s = trimOWS(s)
		if s == "" {
			break
		}
		if s[0] != ',' {
			return SignatureHeader{}, ErrMalformed
		}
		s = s[1:]
	}
	if h.KeyID == "" || h.Algorithm == "" || h.Signature == "" {
		return SignatureHeader{}, ErrMalformed
	}
	return h, nil
}

// String serializes h as an Authorization value that ParseSignatureHeader
// reads back as h.
func (h SignatureHeader) String() string {
	var b strings.Builder
	b.WriteString(`Signature keyId="`)
	b.WriteString(h.KeyID)
	b.WriteString(`",algorithm="`)
	b.WriteString(h.Algorithm)
	if h.Headers != "" {
		b.WriteString(`",headers="`)
		b.WriteString(h.Headers)
	}
	b.WriteString(`",signature="`)
	b.WriteString(h.Signature)
	b.WriteString(`"`)
	return b.String()
}

// nextField returns the first space-separated field of s and the rest.
func nextField(s string) (field, rest string) {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	i := 0
	for i < len(s) && s[i] != ' ' && s[i] != '\t' {
		i++
	}
	return s[:i], s[i:]
}

// hasField reports whether the space-separated list holds name, compared
// case-insensitively.
func hasField(list, name string) bool {
	for list != "" {
		var f string
		f, list = nextField(list)
		if f != "" && strings.EqualFold(f, name) {
			return true
		}
	}
	return false
}

// checkHeaderList reports whether a headers= list has at most
// MaxSignedComponents entries, none of them twice (compared
// case-insensitively, as header names are). Without it a list of one short
// name repeated would have the signing string hold a long header value once
// per repetition.
func checkHeaderList(list string) bool {
	var seen [MaxSignedComponents]string
	n := 0
	for list != "" {
		var f string
		f, list = nextField(list)
		if f == "" {
			continue
		}
		if n == len(seen) {
			return false
		}
		for _, s := range seen[:n] {
			if strings.EqualFold(s, f) {
				return false
			}
		}
		seen[n] = f
		n++
	}
	return true
}

// verifyCavage checks an Authorization: Signature header (params is what
// follows the scheme).
func (a *Authenticator) verifyCavage(r *http.Request, idx *credential.Index, params string) (*credential.Match, error) {
	h, err := parseSignatureParams(params)
	if err != nil {
		return nil, a.fail(r, "malformed Authorization: Signature header", "")
	}
	if !checkHeaderList(h.Headers) {
		return nil, a.fail(r, "headers lists too many entries, or one twice", h.KeyID)
	}
	alg := parseAlg(h.Algorithm)
	if alg == 0 || a.algs&alg == 0 {
		return nil, a.fail(r, "algorithm not allowed: "+h.Algorithm, h.KeyID)
	}
	m, secret, why := a.find(idx, h.KeyID)
	if m == nil {
		return nil, a.fail(r, why, h.KeyID)
	}
	var now, date int64
	if a.skew > 0 {
		if !hasField(h.Headers, "date") {
			return nil, a.fail(r, "date is not signed", h.KeyID)
		}
		d, ok := r.Header["Date"]
		if !ok || len(d) == 0 {
			return nil, a.fail(r, "no Date header", h.KeyID)
		}
		if date, ok = parseDate(d[0]); !ok {
			return nil, a.fail(r, "unreadable Date header", h.KeyID)
		}
		now = a.now().Unix()
		if !a.within(now, date) {
			return nil, a.fail(r, "Date header outside the clock skew", h.KeyID)
		}
	}
	for _, want := range a.signed {
		if !hasField(h.Headers, want) {
			return nil, a.fail(r, "required header not signed: "+want, h.KeyID)
		}
	}

	// The signing string: keyId, then one line per signed header, each ended
	// by "\n".
	var stack [1024]byte
	buf := append(stack[:0], h.KeyID...)
	buf = append(buf, '\n')
	for list := h.Headers; list != ""; {
		var f string
		f, list = nextField(list)
		if f == "" {
			continue
		}
		if f == requestTarget {
			for i := 0; i < len(r.Method); i++ {
				c := r.Method[i]
				if c >= 'a' && c <= 'z' {
					c -= 'a' - 'A'
				}
				buf = append(buf, c)
			}
			buf = append(buf, ' ')
			buf = append(buf, requestURI(r)...)
			buf = append(buf, '\n')
			continue
		}
		if !credential.ValidHeaderName(f) {
			return nil, a.fail(r, "bad name in headers", h.KeyID)
		}
		for i := 0; i < len(f); i++ {
			c := f[i]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			buf = append(buf, c)
		}
		buf = append(buf, ": "...)
		var ok bool
		if buf, ok = headerValue(r, f, buf); !ok {
			return nil, a.fail(r, "signed header absent: "+f, h.KeyID)
		}
		buf = append(buf, '\n')
	}

	var sumBuf [sha512.Size]byte
	var sigBuf [sha512.Size + 3]byte
	sum := secret.mac(alg, buf, sumBuf[:])
	if !decodeSig(sigBuf[:], h.Signature, len(sum)) || !hmac.Equal(sum, sigBuf[:len(sum)]) {
		return nil, a.fail(r, "signature mismatch", h.KeyID)
	}
	if a.body {
		if err := a.checkDigest(r, digestHeader); err != nil {
			if err == errTooLarge {
				return nil, a.tooLarge
			}
			return nil, a.fail(r, err.Error(), h.KeyID)
		}
	}
	if a.replay {
		// New refuses replay_protection without clock_skew: date is known, and
		// the signature is worthless once date+skew has passed.
		if a.replayed(r.Context(), replayKey(m.Credential.Lookup, 'a', sum), now, date+a.skew+1) {
			return nil, a.fail(r, "signature replayed", h.KeyID)
		}
	}
	return m, nil
}
