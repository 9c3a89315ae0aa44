package hmacauth

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strings"
)

// digestKind tells which body-digest header a format uses.
type digestKind uint8

const (
	// digestHeader is "Digest: SHA-256=<base64>" (RFC 3230, as APISIX).
	digestHeader digestKind = iota
	// contentDigest is RFC 9530 "Content-Digest: sha-256=:<base64>:".
	contentDigest
)

// Digest failures; their text is logged, never sent.
var (
	errTooLarge       = errors.New("request body over max_req_body")
	errNoDigest       = errors.New("no body digest header")
	errBadDigest      = errors.New("malformed body digest header")
	errNoKnownDigest  = errors.New("no SHA-256 or SHA-512 body digest")
	errDigestMismatch = errors.New("body digest mismatch")
	errBodyRead       = errors.New("request body unreadable")
)

// checkDigest reads the body (at most max_req_body bytes), puts it back for
// the handler, and checks it against the digest header of kind. Every
// SHA-256 and SHA-512 digest given must match, and at least one must be given.
func (a *Authenticator) checkDigest(r *http.Request, kind digestKind) error {
	name := "Digest"
	if kind == contentDigest {
		name = "Content-Digest"
	}
	hv, ok := r.Header[name]
	if !ok || len(hv) == 0 {
		return errNoDigest
	}
	body, err := a.readBody(r)
	if err != nil {
		return err
	}
	checked := false
	check := func(alg, b64 string) error {
		var want [sha512.Size + 3]byte
		var got []byte
		switch {
		case strings.EqualFold(alg, "sha-256"):
			s := sha256.Sum256(body)
			got = s[:]
		case strings.EqualFold(alg, "sha-512"):
			s := sha512.Sum512(body)
			got = s[:]
		default:
			return nil // other algorithms are ignored
		}
		if !decodeSig(want[:], b64, len(got)) {
			return errDigestMismatch
		}
		checked = true
		if subtle.ConstantTimeCompare(want[:len(got)], got) != 1 {
			return errDigestMismatch
		}
		return nil
	}
	for _, line := range hv {
		if kind == contentDigest {
			err = eachByteSeqMember(line, func(key, b64 string) error { return check(key, b64) })
			if err != nil {
				return err
			}
			continue
		}
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ",")
			alg, val, ok := strings.Cut(trimOWS(part), "=")
			if !ok {
				return errBadDigest
			}
			if err := check(trimOWS(alg), trimOWS(val)); err != nil {
				return err
			}
		}
	}
	if !checked {
		return errNoKnownDigest
	}
	return nil
}

// readBody reads the whole body, up to max_req_body bytes, and replaces
// r.Body with a reader of the same bytes so that the handler still reads all
// of it.
func (a *Authenticator) readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > a.maxBody {
		return nil, errTooLarge
	}
	size := a.maxBody + 1
	if r.ContentLength >= 0 && r.ContentLength < size {
		size = r.ContentLength + 1
	}
	buf := bytes.NewBuffer(make([]byte, 0, min(size, 64<<10)))
	n, err := buf.ReadFrom(io.LimitReader(r.Body, a.maxBody+1))
	body := buf.Bytes()
	// Put back what was read, followed by whatever remains, so that the
	// handler sees the body unchanged even on failure.
	r.Body = restoredBody{Reader: io.MultiReader(bytes.NewReader(body), r.Body), Closer: r.Body}
	if err != nil {
		return nil, errBodyRead
	}
	if n > a.maxBody {
		return nil, errTooLarge
	}
	return body, nil
}

// restoredBody is a request body put back after it was read.
type restoredBody struct {
	io.Reader
	io.Closer
}

// ContentDigest returns the RFC 9530 Content-Digest value of body with
// SHA-256: "sha-256=:<base64>:".
func ContentDigest(body []byte) string {
	s := sha256.Sum256(body)
	return "sha-256=:" + base64.StdEncoding.EncodeToString(s[:]) + ":"
}

// Digest returns the Digest value of body that validate_request_body checks
// with the Authorization: Signature format: "SHA-256=<base64>".
func Digest(body []byte) string {
	s := sha256.Sum256(body)
	return "SHA-256=" + base64.StdEncoding.EncodeToString(s[:])
}
