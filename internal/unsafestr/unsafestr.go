// Package unsafestr views strings as bytes without copying, for the request
// path of the credential schemes (hashing, base64-decoding header values).
package unsafestr

import "unsafe"

// Bytes returns the bytes of s without copying. The result must never be
// changed: it shares the string's memory.
func Bytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
