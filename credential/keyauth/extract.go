package keyauth

import (
	"net/url"
	"strings"
)

// Bearer returns the token of an "Authorization: Bearer <token>" value. The
// scheme is case-insensitive; surrounding spaces are ignored.
func Bearer(v string) (string, bool) {
	const prefix = "bearer "
	if len(v) <= len(prefix) || !strings.EqualFold(v[:len(prefix)], prefix) {
		return "", false
	}
	tok := strings.TrimSpace(v[len(prefix):])
	return tok, tok != ""
}

// QueryValue returns the first value of parameter name in a raw query string,
// unescaped, without building a url.Values map.
func QueryValue(rawQuery, name string) (string, bool) {
	for rawQuery != "" {
		var part string
		part, rawQuery, _ = strings.Cut(rawQuery, "&")
		k, v, _ := strings.Cut(part, "=")
		if k != name {
			if !strings.ContainsAny(k, "%+") {
				continue
			}
			uk, err := url.QueryUnescape(k)
			if err != nil || uk != name {
				continue
			}
		}
		if strings.ContainsAny(v, "%+") {
			uv, err := url.QueryUnescape(v)
			if err != nil {
				return "", false
			}
			return uv, true
		}
		return v, true
	}
	return "", false
}

// RemoveQuery returns rawQuery without any occurrence of parameter name.
func RemoveQuery(rawQuery, name string) string {
	var b strings.Builder
	for rawQuery != "" {
		var part string
		part, rawQuery, _ = strings.Cut(rawQuery, "&")
		k, _, _ := strings.Cut(part, "=")
		if uk, err := url.QueryUnescape(k); err == nil && uk == name {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(part)
	}
	return b.String()
}
