package hmacauth

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
)

// fuzzIndex holds one credential, so that fuzzed requests get past the lookup.
func fuzzIndex() *credential.Index {
	idx := credential.NewIndex()
	cr := &credential.Credential{ID: "c", Enabled: true, Lookup: lookupPrefix + "k"}
	idx.Update(nil, []*credential.Match{{Credential: cr, Secret: []byte("0123456789abcdef"),
		Identity: consumer.Identity{Consumer: &consumer.Consumer{Username: "u"}}}})
	return idx
}

func fuzzAuth(f *testing.F, settings string) *Authenticator {
	p, err := Definition{}.New(json.RawMessage(settings))
	if err != nil {
		f.Fatal(err)
	}
	return p.(*Authenticator)
}

// FuzzSignatureHeader feeds arbitrary Authorization values to the parser and
// the authenticator: they never panic, and a parsed header serialized again
// parses to the same value.
func FuzzSignatureHeader(f *testing.F) {
	f.Add(`Signature keyId="k",algorithm="hmac-sha256",headers="@request-target date",signature="c2ln"`)
	f.Add(`signature keyId = "k" , algorithm="hmac-sha1", signature="AAAA", created=1`)
	f.Add(`Signature keyId="k",algorithm="hmac-sha512",headers="@request-target host x-a",signature="` + strings.Repeat("A", 88) + `"`)
	f.Add(`Signature keyId="k,algorithm=",signature="`)
	f.Add(`Signature ,,,=""`)
	f.Add(`Signature keyId="k",algorithm="hmac-sha256",headers="x X  x-a x-a ` + strings.Repeat("h ", 40) + `",signature="c2ln"`)
	a := fuzzAuth(f, `{"clock_skew":0,"validate_request_body":true}`)
	idx := fuzzIndex()
	f.Fuzz(func(t *testing.T, v string) {
		h, err := ParseSignatureHeader(v)
		if err == nil {
			again, err := ParseSignatureHeader(h.String())
			if err != nil {
				t.Fatalf("%q parsed to %+v, whose serialization %q does not parse: %v", v, h, h.String(), err)
			}
			if again != h {
				t.Fatalf("%q parsed to %+v, then %+v after a round trip", v, h, again)
			}
		}
		r := httptest.NewRequest(http.MethodPost, "/x?y=1", strings.NewReader("body"))
		r.Header["Authorization"] = []string{v}
		r.Header.Set("Digest", "SHA-256=abc")
		_, _ = a.Authenticate(r, idx)
	})
}

// FuzzSignatureInput feeds arbitrary Signature-Input and Signature values to
// their parsers and to the authenticator: they never panic, a parsed value
// serialized again parses to the same, and the serialization the verifier
// signs over is the one a client would produce from the parsed value.
func FuzzSignatureInput(f *testing.F) {
	f.Add(`sig1=("@method" "@target-uri" "content-digest");created=1618884473;keyid="k";alg="hmac-sha256"`, `sig1=:AQID:`)
	f.Add(`sig1=();keyid="k";nonce="a\"b";flag;off=?0;tok=abc/d:e;bin=:AQID:, sig2=("a")`, `sig2=:BA==:, sig1=:AQID:;x=1`)
	f.Add(`sig=(  "a"   "b" );  keyid="k"  `, `sig=("a" "b"), sig=?1`)
	f.Add(`s=("@path" "@query" "@authority" "date");expires=-5;created=0;keyid="k"`, `s=:`+strings.Repeat("A", 44)+`:`)
	f.Add(`sig=("a";x)`, `sig=(:AA==:);p`)
	a := fuzzAuth(f, `{"clock_skew":0}`)
	idx := fuzzIndex()
	f.Fuzz(func(t *testing.T, input, sig string) {
		in, err := ParseSignatureInput(input)
		if err == nil {
			again, err := ParseSignatureInput(in.String())
			if err != nil {
				t.Fatalf("%q parsed to %+v, whose serialization %q does not parse: %v", input, in, in.String(), err)
			}
			if !reflect.DeepEqual(again, in) {
				t.Fatalf("%q parsed to %+v, then %+v after a round trip", input, in, again)
			}
			var raw sigInput
			if err := parseSigInput(input, &raw); err != nil {
				t.Fatalf("%q: exported parser accepts, internal refuses: %v", input, err)
			}
			if got := string(appendSignatureParams(nil, &raw)); got != in.SignatureParams() {
				t.Fatalf("%q: signature params %q, want %q", input, got, in.SignatureParams())
			}
		}
		if b, err := ParseSignature(sig, "sig1"); err == nil {
			again, err := ParseSignature("sig1=:"+base64.StdEncoding.EncodeToString(b)+":", "sig1")
			if err != nil || string(again) != string(b) {
				t.Fatalf("%q: signature %x does not survive a round trip", sig, b)
			}
		}
		r := httptest.NewRequest(http.MethodPost, "/x?y=1", strings.NewReader("body"))
		r.Header["Signature-Input"] = []string{input}
		r.Header["Signature"] = []string{sig}
		r.Header["Content-Digest"] = []string{sig}
		r.Header.Set("Date", "Tue, 20 Apr 2021 02:07:55 GMT")
		_, _ = a.Authenticate(r, idx)
	})
}
