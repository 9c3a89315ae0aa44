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
	v, ok, _ := queryValue(rawQuery, name, -1)
	return v, ok
}

// queryValue is QueryValue that, with max >= 0, reports a first value longer
// than max bytes once unescaped as over instead, without unescaping (and so
// copying) a value too long to fit. Only keys whose length can unescape to
// name's (len(name) to 3*len(name)) are unescaped, so that a query of many
// escaped keys costs no allocation.
func queryValue(rawQuery, name string, max int) (v string, ok, over bool) {
	for rawQuery != "" {
		var part string
		part, rawQuery, _ = strings.Cut(rawQuery, "&")
		k, v, _ := strings.Cut(part, "=")
		if k != name {
			if len(k) < len(name) || len(k) > 3*len(name) || !strings.ContainsAny(k, "%+") {
				continue
			}
			uk, err := url.QueryUnescape(k)
			if err != nil || uk != name {
				continue
			}
		}
		if max >= 0 && len(v) > 3*max {
			return "", false, true // even fully escaped, longer than max
		}
		if strings.ContainsAny(v, "%+") {
			uv, err := url.QueryUnescape(v)
			if err != nil {
				return "", false, false
			}
			v = uv
		}
		if max >= 0 && len(v) > max {
			return "", false, true
		}
		return v, true, false
	}
	return "", false, false
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
