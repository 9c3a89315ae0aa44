package jwtauth

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/gatehousehq/gatehouse/internal/unsafestr"
)

// HeaderToken returns the token of a header value: "Bearer <jwt>" (the
// prefix is case-insensitive and optional) or a bare "<jwt>". A value with
// another scheme ("Basic ...") holds no token.
func HeaderToken(v string) (string, bool) {
	v = strings.TrimSpace(v)
	const prefix = "bearer "
	if len(v) > len(prefix) && strings.EqualFold(v[:len(prefix)], prefix) {
		v = strings.TrimSpace(v[len(prefix):])
	} else if strings.ContainsAny(v, " \t") || strings.EqualFold(v, "bearer") {
		return "", false
	}
	return v, v != ""
}

// CookieValue returns the value of cookie name in the Cookie header lines,
// without parsing every cookie into http.Cookie values. Surrounding double
// quotes are removed.
func CookieValue(lines []string, name string) (string, bool) {
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || strings.TrimSpace(k) != name {
				continue
			}
			v = strings.TrimSpace(v)
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v, true
		}
	}
	return "", false
}

// RemoveCookie returns the Cookie header lines without cookie name; lines
// left empty are dropped.
func RemoveCookie(lines []string, name string) []string {
	var out []string
	for _, line := range lines {
		var kept []string
		for _, part := range strings.Split(line, ";") {
			p := strings.TrimSpace(part)
			if p == "" {
				continue
			}
			if k, _, _ := strings.Cut(p, "="); strings.TrimSpace(k) == name {
				continue
			}
			kept = append(kept, p)
		}
		if len(kept) > 0 {
			out = append(out, strings.Join(kept, "; "))
		}
	}
	return out
}

// payloadSegment returns the middle segment of a compact JWT, or false when
// tok is not three dot-separated segments.
func payloadSegment(tok string) (string, bool) {
	i := strings.IndexByte(tok, '.')
	if i < 0 {
		return "", false
	}
	rest := tok[i+1:]
	j := strings.IndexByte(rest, '.')
	if j < 0 || strings.IndexByte(rest[j+1:], '.') >= 0 {
		return "", false
	}
	return rest[:j], true
}

// decodePayload base64url-decodes the payload of tok into buf (grown when
// too small) and checks that it is a JSON object.
func decodePayload(tok string, buf []byte) ([]byte, bool) {
	seg, ok := payloadSegment(tok)
	if !ok {
		return nil, false
	}
	n := base64.RawURLEncoding.DecodedLen(len(seg))
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	n, err := base64.RawURLEncoding.Decode(buf, unsafestr.Bytes(seg))
	if err != nil {
		return nil, false
	}
	p := buf[:n]
	if !json.Valid(p) {
		return nil, false
	}
	i := skipSpace(p, 0)
	return p, i < len(p) && p[i] == '{'
}

// ClaimString returns the string value of the top-level member name of the
// JSON object payload, as encoding/json would decode it (the last of
// duplicate members wins). found is false when the member is absent, or is
// not a non-empty string. payload must be valid JSON (json.Valid).
func ClaimString(payload []byte, name string) (value string, found bool) {
	i := skipSpace(payload, 0)
	if i >= len(payload) || payload[i] != '{' {
		return "", false
	}
	i++
	for {
		i = skipSpace(payload, i)
		if i >= len(payload) || payload[i] == '}' {
			return value, found
		}
		if payload[i] == ',' {
			i++
			continue
		}
		kStart := i
		i = skipString(payload, i)
		key := payload[kStart:i]
		i = skipSpace(payload, i)
		i++ // ':'
		i = skipSpace(payload, i)
		vStart := i
		i = skipValue(payload, i)
		if keyEquals(key, name) {
			value, found = "", false
			if v := payload[vStart:i]; len(v) > 0 && v[0] == '"' {
				value, found = unquote(v)
				found = found && value != ""
			}
		}
	}
}

// keyEquals compares a quoted JSON member name with name.
func keyEquals(quoted []byte, name string) bool {
	if inner := quoted[1 : len(quoted)-1]; isPlain(inner) {
		return string(inner) == name
	}
	s, ok := unquote(quoted)
	return ok && s == name
}

// isPlain reports whether the inside of a JSON string literal needs no
// decoding: no escapes, valid UTF-8.
func isPlain(inner []byte) bool {
	for _, c := range inner {
		if c == '\\' {
			return false
		}
	}
	return utf8.Valid(inner)
}

// unquote decodes a JSON string literal.
func unquote(quoted []byte) (string, bool) {
	if inner := quoted[1 : len(quoted)-1]; isPlain(inner) {
		return string(inner), true
	}
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		return "", false
	}
	return s, true
}

func skipSpace(p []byte, i int) int {
	for i < len(p) && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string literal starting at i.
func skipString(p []byte, i int) int {
	for i++; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(p)
}

// skipValue returns the index after the JSON value starting at i.
func skipValue(p []byte, i int) int {
	if i >= len(p) {
		return i
	}
	switch p[i] {
	case '"':
		return skipString(p, i)
	case '{', '[':
		depth := 0
		for i < len(p) {
			switch p[i] {
			case '"':
				i = skipString(p, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	default: // number, true, false, null
		for i < len(p) && p[i] != ',' && p[i] != '}' && p[i] != ']' && p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r' {
			i++
		}
		return i
	}
}
