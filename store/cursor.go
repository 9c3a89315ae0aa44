package store

import (
	"encoding/base64"
	"fmt"
)

// PageSize returns the page size o asks for: DefaultListLimit when Limit is
// 0 or less, at most MaxListLimit.
func (o ListOptions) PageSize() int {
	switch {
	case o.Limit <= 0:
		return DefaultListLimit
	case o.Limit > MaxListLimit:
		return MaxListLimit
	}
	return o.Limit
}

// EncodeCursor makes the opaque cursor (Page.Next) that continues a list
// after the item whose ordering key is key, for back-ends.
func EncodeCursor(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(key))
}

// DecodeCursor returns the ordering key a cursor made by EncodeCursor
// continues after; an error wrapping ErrInvalidCursor for anything else.
func DecodeCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) == 0 {
		return "", fmt.Errorf("store: %w %q", ErrInvalidCursor, c)
	}
	return string(b), nil
}
