package hmacauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/gatehousehq/gatehouse/credential"
	"github.com/gatehousehq/gatehouse/internal/unsafestr"
)

// Limits of an RFC 9421 Signature-Input member.
const (
	maxComponents = MaxSignedComponents
	maxParams     = 16
)

// sigInput is the first member of a Signature-Input dictionary, parsed
// without allocation. Components hold names as sent (no escapes are allowed
// in them); parameters keep their serialized strings.
type sigInput struct {
	label  string
	comps  [maxComponents]string
	nComps int
	keys   [maxParams]string
	vals   [maxParams]sfItem
	nPar   int
}

func (in *sigInput) components() []string { return in.comps[:in.nComps] }

// param returns the value of the parameter called key.
func (in *sigInput) param(key string) (sfItem, bool) {
	for i := 0; i < in.nPar; i++ {
		if in.keys[i] == key {
			return in.vals[i], true
		}
	}
	return sfItem{}, false
}

// errSigInput is every Signature-Input parse failure.
var errSigInput = errors.New("hmac-auth: malformed Signature-Input")

// parseSigInput reads the first member of a Signature-Input dictionary: a
// label, an inner list of component names (strings without parameters) and
// the signature parameters. What follows the first member is not read.
func parseSigInput(v string, in *sigInput) error {
	s := trimOWS(v)
	label, s, ok := parseKey(s)
	if !ok || len(s) < 2 || s[0] != '=' || s[1] != '(' {
		return errSigInput
	}
	in.label = label
	s = s[2:]
	for {
		s = skipSP(s)
		if s == "" {
			return errSigInput
		}
		if s[0] == ')' {
			s = s[1:]
			break
		}
		it, rest, ok := parseBareItem(s)
		if !ok || it.kind != kindString || it.str == "" || strings.IndexByte(it.str, '\\') >= 0 || in.nComps == maxComponents {
			return errSigInput
		}
		for _, c := range in.components() {
			if c == it.str {
				return errSigInput // RFC 9421 §2.5: no component twice
			}
		}
		in.comps[in.nComps] = it.str
		in.nComps++
		s = rest
		if s != "" && s[0] != ' ' && s[0] != ')' {
			return errSigInput // component parameters (;sf, ;req, ...) are not supported
		}
	}
	s, ok = parseParams(s, func(key string, v sfItem) bool {
		if in.nPar == maxParams {
			return false
		}
		for i := 0; i < in.nPar; i++ {
			if in.keys[i] == key {
				return false
			}
		}
		in.keys[in.nPar], in.vals[in.nPar] = key, v
		in.nPar++
		return true
	})
	if !ok {
		return errSigInput
	}
	if s = trimOWS(s); s != "" && s[0] != ',' {
		return errSigInput
	}
	return nil
}

// appendSignatureParams serializes the inner list and its parameters: the
// value of "@signature-params".
func appendSignatureParams(b []byte, in *sigInput) []byte {
	b = append(b, '(')
	for i, c := range in.components() {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, '"')
		b = append(b, c...)
		b = append(b, '"')
	}
	b = append(b, ')')
	for i := 0; i < in.nPar; i++ {
		b = appendParam(b, in.keys[i], in.vals[i])
	}
	return b
}

// findSignature returns the base64 of the byte sequence labelled label in
// Signature header lines.
func findSignature(lines []string, label string) (string, bool) {
	var found string
	ok := false
	for _, line := range lines {
		eachDictMember(line, func(key string, v sfItem, isList bool) bool {
			if key != label {
				return true
			}
			if isList || v.kind != kindBytes {
				return false
			}
			found, ok = v.str, true
			return false
		})
		if ok {
			return found, true
		}
	}
	return "", false
}

// verifyRFC9421 checks an RFC 9421 signature: the first member of
// Signature-Input (line is its first header line) and the Signature member of
// the same label.
func (a *Authenticator) verifyRFC9421(r *http.Request, idx *credential.Index, line string) (*credential.Match, error) {
	var in sigInput
	if err := parseSigInput(line, &in); err != nil {
		return nil, a.fail(r, "malformed Signature-Input", "")
	}
	keyItem, ok := in.param("keyid")
	if !ok || keyItem.kind != kindString {
		return nil, a.fail(r, "Signature-Input has no keyid", "")
	}
	keyID := keyItem.str
	if alg, ok := in.param("alg"); ok && !alg.equalString(AlgHMACSHA256) {
		return nil, a.fail(r, "Signature-Input alg is not hmac-sha256", keyID)
	}
	if a.algs&algSHA256 == 0 {
		return nil, a.fail(r, "hmac-sha256 is not allowed", keyID)
	}
	m, secret, why := a.find(idx, keyID)
	if m == nil {
		return nil, a.fail(r, why, keyID)
	}

	var now int64
	created, hasCreated := in.param("created")
	if hasCreated && created.kind != kindInt {
		return nil, a.fail(r, "created is not an integer", keyID)
	}
	expires, hasExpires := in.param("expires")
	if hasExpires && expires.kind != kindInt {
		return nil, a.fail(r, "expires is not an integer", keyID)
	}
	if nonce, ok := in.param("nonce"); ok && nonce.kind != kindString {
		return nil, a.fail(r, "nonce is not a string", keyID)
	}
	if a.skew > 0 || hasExpires {
		now = a.now().Unix()
	}
	if a.skew > 0 {
		if !hasCreated {
			return nil, a.fail(r, "created is required", keyID)
		}
		if !a.within(now, created.num) {
			return nil, a.fail(r, "created outside the clock skew", keyID)
		}
	}
	if hasExpires && now >= expires.num {
		return nil, a.fail(r, "signature expired", keyID)
	}
	comps := in.components()
	for _, want := range a.signed {
		if !coversRequired(comps, want) {
			return nil, a.fail(r, "required component not covered: "+want, keyID)
		}
	}

	// The signature base (RFC 9421 §2.5).
	var stack [1024]byte
	buf := stack[:0]
	coversDigest := false
	for _, c := range comps {
		buf = append(buf, '"')
		buf = append(buf, c...)
		buf = append(buf, `": `...)
		var ok bool
		if buf, ok = appendComponent(buf, r, c); !ok {
			return nil, a.fail(r, "component unsupported or absent: "+c, keyID)
		}
		buf = append(buf, '\n')
		coversDigest = coversDigest || c == "content-digest"
	}
	buf = append(buf, `"@signature-params": `...)
	buf = appendSignatureParams(buf, &in)

	b64, ok := findSignature(r.Header["Signature"], in.label)
	if !ok {
		return nil, a.fail(r, "no Signature for label "+in.label, keyID)
	}
	var sumBuf [sha256.Size]byte
	var sigBuf [sha256.Size + 3]byte
	sum := secret.mac(algSHA256, buf, sumBuf[:])
	if len(b64) != base64.StdEncoding.EncodedLen(sha256.Size) || !decodeSig(sigBuf[:], b64, sha256.Size) || !hmac.Equal(sum, sigBuf[:sha256.Size]) {
		return nil, a.fail(r, "signature mismatch", keyID)
	}
	if coversDigest || a.body {
		if err := a.checkDigest(r, contentDigest); err != nil {
			if err == errTooLarge {
				return nil, a.tooLarge
			}
			return nil, a.fail(r, err.Error(), keyID)
		}
	}
	if a.replay {
		// Remember the signature (or its nonce) until it can no longer pass
		// the clock checks.
		until := created.num + a.skew + 1
		if hasExpires && expires.num < until {
			until = expires.num
		}
		key := replayKey(m.Credential.Lookup, 's', sum)
		if nonce, ok := in.param("nonce"); ok {
			key = replayKey(m.Credential.Lookup, 'n', unsafestr.Bytes(nonce.str))
		}
		if a.replayed(r.Context(), key, now, until) {
			return nil, a.fail(r, "signature or nonce replayed", keyID)
		}
	}
	return m, nil
}

// coversRequired reports whether covered components satisfy one entry of
// signed_headers: a header name, or @request-target, which needs @method with
// @target-uri, or @method with @path and @query.
func coversRequired(comps []string, want string) bool {
	has := func(name string) bool {
		for _, c := range comps {
			if c == name {
				return true
			}
		}
		return false
	}
	if want == requestTarget {
		return has("@method") && (has("@target-uri") || has("@path") && has("@query"))
	}
	return has(want)
}

// appendComponent appends the value of a covered component: a derived
// component of RFC 9421 §2.2 or a lower-case header field name.
func appendComponent(b []byte, r *http.Request, name string) ([]byte, bool) {
	if name[0] != '@' {
		for i := 0; i < len(name); i++ {
			if c := name[i]; c >= 'A' && c <= 'Z' || !credential.IsTokenChar(c) {
				return b, false
			}
		}
		return headerValue(r, name, b)
	}
	uri := requestURI(r)
	path, query, hasQuery := strings.Cut(uri, "?")
	switch name {
	case "@method":
		return append(b, r.Method...), true
	case "@authority":
		return appendAuthority(b, r), true
	case "@target-uri":
		b = append(b, scheme(r)...)
		b = append(b, "://"...)
		b = appendAuthority(b, r)
		return append(b, uri...), true
	case "@path":
		if path == "" {
			path = "/"
		}
		return append(b, path...), true
	case "@query":
		b = append(b, '?')
		if hasQuery {
			b = append(b, query...)
		}
		return b, true
	case "@scheme":
		return append(b, scheme(r)...), true
	case "@request-target":
		return append(b, uri...), true
	}
	return b, false
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// appendAuthority appends the request's host, lower-cased, without the
// scheme's default port.
func appendAuthority(b []byte, r *http.Request) []byte {
	host := r.Host
	if r.TLS != nil {
		host = strings.TrimSuffix(host, ":443")
	} else {
		host = strings.TrimSuffix(host, ":80")
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// SignatureInput is the first member of an RFC 9421 Signature-Input header:
// its label, covered components and signature parameters.
type SignatureInput struct {
	// Label names the signature (sig1, ...); the Signature header holds the
	// signature under the same label.
	Label string
	// Components are the covered component names, in order ("@method",
	// "content-digest", ...).
	Components []string
	// Params are the signature parameters, in order (created, keyid, ...).
	Params []Param
}

// Param is one signature parameter. Value is an int64 (integer), a string, a
// Token, a []byte (byte sequence) or a bool.
type Param struct {
	Name  string
	Value any
}

// Token is a structured-field token (an unquoted word).
type Token string

// ErrSignature is returned by ParseSignature when the label is missing or its
// value is not a byte sequence.
var ErrSignature = errors.New("hmac-auth: no usable Signature member")

// ParseSignatureInput parses the first member of a Signature-Input value (the
// gateway verifies only the first signature of a request). Component
// parameters (;sf, ;req, ...), decimals and more than 32 components or 16
// parameters are refused.
func ParseSignatureInput(v string) (SignatureInput, error) {
	var in sigInput
	if err := parseSigInput(v, &in); err != nil {
		return SignatureInput{}, err
	}
	out := SignatureInput{Label: in.label, Components: append([]string(nil), in.components()...)}
	for i := 0; i < in.nPar; i++ {
		it := in.vals[i]
		var val any
		switch it.kind {
		case kindInt:
			val = it.num
		case kindString:
			val = unescapeSF(it.str)
		case kindToken:
			val = Token(it.str)
		case kindBytes:
			b, err := base64.StdEncoding.Strict().DecodeString(it.str)
			if err != nil {
				return SignatureInput{}, errSigInput
			}
			val = b
		case kindBool:
			val = it.num == 1
		}
		out.Params = append(out.Params, Param{Name: in.keys[i], Value: val})
	}
	return out, nil
}

// SignatureParams serializes the covered components and parameters: the
// value of "@signature-params" in the signature base and of the member in
// Signature-Input.
func (in SignatureInput) SignatureParams() string {
	b := []byte{'('}
	for i, c := range in.Components {
		if i > 0 {
			b = append(b, ' ')
		}
		b = appendSFString(b, c)
	}
	b = append(b, ')')
	for _, p := range in.Params {
		var it sfItem
		switch v := p.Value.(type) {
		case int64:
			it = sfItem{kind: kindInt, num: v}
		case int:
			it = sfItem{kind: kindInt, num: int64(v)}
		case string:
			b = append(b, ';')
			b = append(b, p.Name...)
			b = append(b, '=')
			b = appendSFString(b, v)
			continue
		case Token:
			it = sfItem{kind: kindToken, str: string(v)}
		case []byte:
			it = sfItem{kind: kindBytes, str: base64.StdEncoding.EncodeToString(v)}
		case bool:
			it = sfItem{kind: kindBool}
			if v {
				it.num = 1
			}
		default:
			continue
		}
		b = appendParam(b, p.Name, it)
	}
	return string(b)
}

// String serializes in as a Signature-Input value: label=(...);params.
func (in SignatureInput) String() string { return in.Label + "=" + in.SignatureParams() }

// appendSFString serializes s as a structured-field string.
func appendSFString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// ParseSignature returns the signature labelled label in a Signature value
// (a dictionary of byte sequences).
func ParseSignature(v, label string) ([]byte, error) {
	b64, ok := findSignature([]string{v}, label)
	if !ok {
		return nil, ErrSignature
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, ErrSignature
	}
	return b, nil
}
