package apikey

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"testing"
)

// FuzzExtract feeds arbitrary header values to the extraction: it must never
// panic, and a Basic value that decodes with a colon must split on the first
// colon.
func FuzzExtract(f *testing.F) {
	f.Add("id", "secret", "", "")
	f.Add("", "", "Basic "+base64.StdEncoding.EncodeToString([]byte("id:sec:ret")), "")
	f.Add("", "", "basic !!!", "key")
	f.Add("", "", "Basic ", "")
	f.Add("id", "", "Bearer x", "")
	p, err := Definition{}.New(nil)
	if err != nil {
		f.Fatal(err)
	}
	a := p.(*Authenticator)
	f.Fuzz(func(t *testing.T, id, secret, authz, only string) {
		h := http.Header{}
		for name, v := range map[string]string{"Otoroshi-Client-Id": id, "Otoroshi-Client-Secret": secret, "Authorization": authz, "X-Api-Key": only} {
			if v != "" {
				h[name] = []string{v}
			}
		}
		var scratch [maxBasicLen]byte
		gotID, gotSecret, src := a.extract(h, &scratch)
		switch src {
		case fromHeaders:
			if string(gotID) != id || string(gotSecret) != secret {
				t.Fatalf("headers: got %q %q", gotID, gotSecret)
			}
		case fromBasic:
			if bytes.IndexByte(gotID, ':') >= 0 {
				t.Fatalf("basic: clientId %q holds a colon", gotID)
			}
		case fromClientIDOnly:
			if string(gotID) != only || gotSecret != nil {
				t.Fatalf("id only: got %q %q", gotID, gotSecret)
			}
		case fromNone:
			if id != "" || secret != "" || only != "" {
				t.Fatalf("nothing found in %q %q %q %q", id, secret, authz, only)
			}
		}
	})
}
