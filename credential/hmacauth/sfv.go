package hmacauth

import (
	"strconv"
	"strings"

	"github.com/gatehousehq/gatehouse/credential"
)

// This file is the subset of RFC 8941 structured fields that RFC 9421 and
// RFC 9530 need: dictionaries whose members are inner lists of strings or
// byte sequences, and parameters with integer, string, token, byte-sequence
// and boolean values. It parses without allocating: strings are kept in their
// serialized (escaped) form, which is also their canonical serialization.

// Kinds of bare items.
const (
	kindInt byte = iota + 1
	kindString
	kindToken
	kindBytes
	kindBool
)

// sfItem is a bare item. For strings, str is the escaped content between the
// quotes; for byte sequences, the base64 between the colons; for tokens, the
// token. For booleans num is 0 or 1.
type sfItem struct {
	kind byte
	num  int64
	str  string
}

// equalString reports whether a string item's value equals s (s holds no
// backslash or quote).
func (it sfItem) equalString(s string) bool {
	return it.kind == kindString && it.str == s
}

// unescapeSF returns the value of a string item from its escaped form.
func unescapeSF(raw string) string {
	if strings.IndexByte(raw, '\\') < 0 {
		return raw
	}
	b := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		if raw[i] == '\\' {
			i++
		}
		b = append(b, raw[i])
	}
	return string(b)
}

func isLCAlpha(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool   { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool   { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func skipSP(s string) string {
	for s != "" && s[0] == ' ' {
		s = s[1:]
	}
	return s
}

// parseKey reads a key: ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ).
func parseKey(s string) (key, rest string, ok bool) {
	if s == "" || !(isLCAlpha(s[0]) || s[0] == '*') {
		return "", s, false
	}
	i := 1
	for i < len(s) && (isLCAlpha(s[i]) || isDigit(s[i]) || strings.IndexByte("_-.*", s[i]) >= 0) {
		i++
	}
	return s[:i], s[i:], true
}

// parseBareItem reads an integer, string, token, byte sequence or boolean.
// Decimals, dates and display strings are refused.
func parseBareItem(s string) (sfItem, string, bool) {
	if s == "" {
		return sfItem{}, s, false
	}
	c := s[0]
	switch {
	case c == '-' || isDigit(c):
		i, neg := 0, false
		if c == '-' {
			i, neg = 1, true
		}
		start := i
		var n int64
		for i < len(s) && isDigit(s[i]) {
			if i-start >= 15 {
				return sfItem{}, s, false
			}
			n = n*10 + int64(s[i]-'0')
			i++
		}
		if i == start || i < len(s) && s[i] == '.' {
			return sfItem{}, s, false
		}
		if neg {
			n = -n
		}
		return sfItem{kind: kindInt, num: n}, s[i:], true
	case c == '"':
		for i := 1; i < len(s); i++ {
			switch ch := s[i]; {
			case ch == '\\':
				i++
				if i >= len(s) || s[i] != '"' && s[i] != '\\' {
					return sfItem{}, s, false
				}
			case ch == '"':
				return sfItem{kind: kindString, str: s[1:i]}, s[i+1:], true
			case ch < 0x20 || ch > 0x7e:
				return sfItem{}, s, false
			}
		}
		return sfItem{}, s, false
	case isAlpha(c) || c == '*':
		i := 1
		for i < len(s) && (credential.IsTokenChar(s[i]) || s[i] == ':' || s[i] == '/') {
			i++
		}
		return sfItem{kind: kindToken, str: s[:i]}, s[i:], true
	case c == ':':
		end := strings.IndexByte(s[1:], ':')
		if end < 0 {
			return sfItem{}, s, false
		}
		b := s[1 : 1+end]
		if len(b)%4 != 0 {
			return sfItem{}, s, false
		}
		for i := 0; i < len(b); i++ {
			if ch := b[i]; !(isAlpha(ch) || isDigit(ch) || ch == '+' || ch == '/' || ch == '=') {
				return sfItem{}, s, false
			}
		}
		return sfItem{kind: kindBytes, str: b}, s[2+end:], true
	case c == '?':
		if len(s) < 2 || s[1] != '0' && s[1] != '1' {
			return sfItem{}, s, false
		}
		return sfItem{kind: kindBool, num: int64(s[1] - '0')}, s[2:], true
	}
	return sfItem{}, s, false
}

// parseParams reads parameters (";" *SP key [ "=" bare-item ]) and calls fn
// (when not nil) for each; fn returning false stops with an error.
func parseParams(s string, fn func(key string, v sfItem) bool) (string, bool) {
	for s != "" && s[0] == ';' {
		s = skipSP(s[1:])
		key, rest, ok := parseKey(s)
		if !ok {
			return s, false
		}
		s = rest
		v := sfItem{kind: kindBool, num: 1}
		if s != "" && s[0] == '=' {
			if v, s, ok = parseBareItem(s[1:]); !ok {
				return s, false
			}
		}
		if fn != nil && !fn(key, v) {
			return s, false
		}
	}
	return s, true
}

// skipMemberValue reads a dictionary member's value (after "="): an inner
// list or an item, each with its parameters. When the value is an item it is
// returned (its parameters skipped).
func skipMemberValue(s string) (sfItem, string, bool) {
	if s != "" && s[0] == '(' {
		s = s[1:]
		for {
			s = skipSP(s)
			if s == "" {
				return sfItem{}, s, false
			}
			if s[0] == ')' {
				s, ok := parseParams(s[1:], nil)
				return sfItem{}, s, ok
			}
			var ok bool
			if _, s, ok = parseBareItem(s); !ok {
				return sfItem{}, s, false
			}
			if s, ok = parseParams(s, nil); !ok {
				return sfItem{}, s, false
			}
			if s != "" && s[0] != ' ' && s[0] != ')' {
				return sfItem{}, s, false
			}
		}
	}
	it, s, ok := parseBareItem(s)
	if !ok {
		return sfItem{}, s, false
	}
	s, ok = parseParams(s, nil)
	return it, s, ok
}

// nextMember moves past the separator after a dictionary member. It reports
// done at the end of the value and ok=false on a malformed separator.
func nextMember(s string) (rest string, done, ok bool) {
	s = trimOWS(s)
	if s == "" {
		return s, true, true
	}
	if s[0] != ',' {
		return s, false, false
	}
	s = trimOWS(s[1:])
	return s, false, s != ""
}

// eachDictMember calls fn for each member of a dictionary whose value is an
// item (a member without a value is the boolean true); inner lists are
// skipped (isList).
func eachDictMember(s string, fn func(key string, v sfItem, isList bool) bool) bool {
	s = trimOWS(s)
	for s != "" {
		key, rest, ok := parseKey(s)
		if !ok {
			return false
		}
		s = rest
		var v sfItem
		isList := false
		if s != "" && s[0] == '=' {
			isList = len(s) > 1 && s[1] == '('
			if v, s, ok = skipMemberValue(s[1:]); !ok {
				return false
			}
		} else {
			v = sfItem{kind: kindBool, num: 1}
			if s, ok = parseParams(s, nil); !ok {
				return false
			}
		}
		if !fn(key, v, isList) {
			return false
		}
		var done bool
		if s, done, ok = nextMember(s); !ok {
			return false
		}
		if done {
			break
		}
	}
	return true
}

// eachByteSeqMember calls fn with the key and base64 of each member of a
// dictionary of byte sequences (Content-Digest); another kind of member is an
// error.
func eachByteSeqMember(s string, fn func(key, b64 string) error) error {
	var ferr error
	ok := eachDictMember(s, func(key string, v sfItem, isList bool) bool {
		if isList || v.kind != kindBytes {
			ferr = errBadDigest
			return false
		}
		ferr = fn(key, v.str)
		return ferr == nil
	})
	if ferr != nil {
		return ferr
	}
	if !ok {
		return errBadDigest
	}
	return nil
}

// appendItem serializes a bare item.
func appendItem(b []byte, it sfItem) []byte {
	switch it.kind {
	case kindInt:
		return strconv.AppendInt(b, it.num, 10)
	case kindString:
		b = append(b, '"')
		b = append(b, it.str...)
		return append(b, '"')
	case kindToken:
		return append(b, it.str...)
	case kindBytes:
		b = append(b, ':')
		b = append(b, it.str...)
		return append(b, ':')
	case kindBool:
		if it.num == 1 {
			return append(b, "?1"...)
		}
		return append(b, "?0"...)
	}
	return b
}

// appendParam serializes one parameter: a true boolean is the bare key.
func appendParam(b []byte, key string, it sfItem) []byte {
	b = append(b, ';')
	b = append(b, key...)
	if it.kind == kindBool && it.num == 1 {
		return b
	}
	b = append(b, '=')
	return appendItem(b, it)
}
