package hmacauth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"hash"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/consumer"
	"github.com/gatehousehq/gatehouse/credential"
)

// TestRFC9421VectorB25 checks the HMAC example of RFC 9421 Appendix B.2.5,
// whose secret is binary (so it cannot go through the admin API's JSON).
func TestRFC9421VectorB25(t *testing.T) {
	key, err := base64.StdEncoding.DecodeString("uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==")
	require.NoError(t, err)
	idx := credential.NewIndex()
	cr := &credential.Credential{ID: "c", Enabled: true, Lookup: lookupPrefix + "test-shared-secret"}
	idx.Update(nil, []*credential.Match{{Credential: cr, Secret: newSecretKey(key), Identity: consumer.Identity{Consumer: &consumer.Consumer{Username: "rfc"}}}})
	p, err := Definition{}.New(json.RawMessage(`{"clock_skew":0}`))
	require.NoError(t, err)
	a := p.(*Authenticator)

	r := httptest.NewRequest(http.MethodPost, "/foo?param=Value&Pet=dog", strings.NewReader(`{"hello": "world"}`))
	r.Host = "example.com"
	r.Header.Set("Date", "Tue, 20 Apr 2021 02:07:55 GMT")
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Content-Digest", "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:")
	r.Header.Set("Content-Length", "18")
	r.Header.Set("Signature-Input", `sig-b25=("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"`)
	r.Header.Set("Signature", `sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:`)
	m, err := a.Authenticate(r, idx)
	require.NoError(t, err)
	require.Equal(t, "rfc", m.Identity.Consumer.Username)

	// The Content-Digest of the RFC's body checks out too (B.2 uses SHA-512).
	a.body = true
	m, err = a.Authenticate(r, idx)
	require.NoError(t, err)
	require.NotNil(t, m)

	r.Header.Set("Signature", `sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE9=:`)
	_, err = a.Authenticate(r, idx)
	require.Error(t, err)
}

func TestParseSignatureHeader(t *testing.T) {
	good := []struct {
		in   string
		want SignatureHeader
	}{
		{`Signature keyId="k",algorithm="hmac-sha256",headers="@request-target date",signature="c2ln"`,
			SignatureHeader{KeyID: "k", Algorithm: "hmac-sha256", Headers: "@request-target date", Signature: "c2ln"}},
		{`signature  keyId = "k" , algorithm="a", signature="s", created=123, extra="x"`,
			SignatureHeader{KeyID: "k", Algorithm: "a", Signature: "s"}},
		{`SIGNATURE signature="s",algorithm="a",keyId="k",headers=""`,
			SignatureHeader{KeyID: "k", Algorithm: "a", Signature: "s"}},
		{"Signature\tkeyId=\"k\",algorithm=\"a\",signature=\"s\",",
			SignatureHeader{KeyID: "k", Algorithm: "a", Signature: "s"}},
	}
	for _, tt := range good {
		got, err := ParseSignatureHeader(tt.in)
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, got, tt.in)
		again, err := ParseSignatureHeader(got.String())
		require.NoError(t, err)
		require.Equal(t, got, again)
	}
	_, err := ParseSignatureHeader("Basic abc")
	require.ErrorIs(t, err, ErrNotSignature)
	for _, bad := range []string{
		`Signature `,
		`Signature keyId`,
		`Signature keyId=`,
		`Signature keyId="k"`,
		`Signature keyId="k",algorithm="a"`,
		`Signature keyId="k",algorithm="a",signature=""`,
		`Signature keyId="k" algorithm="a",signature="s"`,
		`Signature keyId="k,algorithm="a",signature="s`,
		`Signature keyId="k",keyId="k",algorithm="a",signature="s"`,
		`Signature keyId="k\",algorithm="a",signature="s"`,
		`Signature ="k",algorithm="a",signature="s"`,
		`Signature keyId=k k,algorithm="a",signature="s"`,
		`Signature keyId="k",,algorithm="a",signature="s"`,
	} {
		_, err := ParseSignatureHeader(bad)
		require.ErrorIs(t, err, ErrMalformed, bad)
	}
}

func TestParseSignatureInput(t *testing.T) {
	in, err := ParseSignatureInput(`sig1=("@method" "@target-uri" "content-digest");created=1618884473;keyid="test-key";alg="hmac-sha256";nonce="a\"b";flag;off=?0;tok=abc/d:e;bin=:AQID:, sig2=("@method");keyid="x"`)
	require.NoError(t, err)
	require.Equal(t, SignatureInput{
		Label:      "sig1",
		Components: []string{"@method", "@target-uri", "content-digest"},
		Params: []Param{
			{"created", int64(1618884473)}, {"keyid", "test-key"}, {"alg", "hmac-sha256"}, {"nonce", `a"b`},
			{"flag", true}, {"off", false}, {"tok", Token("abc/d:e")}, {"bin", []byte{1, 2, 3}},
		},
	}, in)
	require.Equal(t, `sig1=("@method" "@target-uri" "content-digest");created=1618884473;keyid="test-key";alg="hmac-sha256";nonce="a\"b";flag;off=?0;tok=abc/d:e;bin=:AQID:`, in.String())

	// Spaces the grammar allows; the serialization normalizes them.
	in, err = ParseSignatureInput(`  sig=(  "a"   "b" );  keyid="k"  `)
	require.NoError(t, err)
	require.Equal(t, `("a" "b");keyid="k"`, in.SignatureParams())

	for _, bad := range []string{
		``, `sig1`, `sig1=`, `sig1="@method"`, `Sig=("a")`, `sig=("a"`, `sig=("a";x)`, `sig=(a)`, `sig=("")`,
		`sig=("a" "a")`, `sig=("a\\b")`, `sig=("a")"b"`, `sig=("a");created=1.5`, `sig=("a");k=;`,
		`sig=("a");k=1;k=2`, `sig=("a");k=:abc:`, `sig=("a");k="` + "\x01" + `"`, `sig=("a");k=1234567890123456`,
		`sig=("a")x`, `sig=("a""b")`,
	} {
		_, err := ParseSignatureInput(bad)
		require.Error(t, err, bad)
	}
	many := `sig=(` + strings.Repeat(`"a" `, 1) + `)`
	_, err = ParseSignatureInput(many)
	require.NoError(t, err)
}

func TestParseSignature(t *testing.T) {
	sig, err := ParseSignature(`sig0=("a");x, sig1=:AQID:;p=1, sig2=:BA==:`, "sig1")
	require.NoError(t, err)
	require.Equal(t, []byte{1, 2, 3}, sig)
	sig, err = ParseSignature(`sig0=?1, sig2=:BA==:`, "sig2")
	require.NoError(t, err)
	require.Equal(t, []byte{4}, sig)
	for _, tt := range [][2]string{
		{`sig1=:AQID:`, "sig2"}, {`sig1="AQID"`, "sig1"}, {`sig1=(:AQID:)`, "sig1"}, {`sig0=(, sig1=:AQID:`, "sig1"},
		{`sig1=:AQ=D:`, "sig1"}, {``, "sig1"},
	} {
		_, err := ParseSignature(tt[0], tt[1])
		require.Error(t, err, tt[0])
	}
}

func TestReplayCacheExpires(t *testing.T) {
	c := &replayCache{}
	// Keys of one shard, so that its sweeps are observable.
	k1, k2, k3 := [32]byte{0, 1}, [32]byte{0, 2}, [32]byte{0, 3}
	require.False(t, c.seen(k1, 1000, 1300))
	require.True(t, c.seen(k1, 1100, 1400))
	require.False(t, c.seen(k2, 1100, 1400))
	require.Equal(t, 2, c.len())
	require.False(t, c.seen(k1, 1300, 1600), "an expired entry no longer counts")
	require.False(t, c.seen(k3, 2000, 2300))
	require.Equal(t, 1, c.len(), "expired entries are swept")
	require.NotEqual(t, replayKey("hmac-auth:k", 'a', []byte("x")), replayKey("hmac-auth:k", 'n', []byte("x")))
}

func TestDefaultsAndClock(t *testing.T) {
	p, err := Definition{}.New(nil)
	require.NoError(t, err)
	a := p.(*Authenticator)
	require.Equal(t, int64(DefaultClockSkew), a.skew)
	require.Equal(t, int64(DefaultMaxReqBody), a.maxBody)
	require.Equal(t, algSHA1|algSHA256|algSHA512, a.algs)
	require.Equal(t, `Signature realm="hmac"`, a.invalid.Challenge)
	require.WithinDuration(t, time.Now(), a.now(), time.Minute)
	require.Equal(t, MsgInvalid, a.missing.Message)
	require.True(t, a.missing.Missing)
}

// TestMAC checks that the pooled, reused HMAC instances give crypto/hmac's
// result every time, for every algorithm, key and message length, also when
// used from several goroutines.
func TestMAC(t *testing.T) {
	for _, alg := range []algSet{algSHA1, algSHA256, algSHA512} {
		newHash := map[algSet]func() hash.Hash{algSHA1: sha1.New, algSHA256: sha256.New, algSHA512: sha512.New}[alg]
		for _, keyLen := range []int{1, 16, 63, 64, 65, 127, 128, 129, 300} {
			key := bytes.Repeat([]byte{byte(keyLen)}, keyLen)
			k := newSecretKey(key)
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for _, msgLen := range []int{0, 1, 100, 1023, 1024, 5000} {
						msg := bytes.Repeat([]byte{'m', byte(msgLen + g)}, msgLen/2+1)[:msgLen]
						want := hmac.New(newHash, key)
						want.Write(msg)
						var dst [64]byte
						assert.Equal(t, want.Sum(nil), k.mac(alg, msg, dst[:]), "alg %d key %d msg %d", alg, keyLen, msgLen)
					}
				}()
			}
			wg.Wait()
		}
	}
}

func TestParseDate(t *testing.T) {
	for _, s := range []string{
		"Sun, 06 Nov 1994 08:49:37 GMT", "Fri, 06 Sep 2024 06:41:29 GMT", "Thu, 29 Feb 2024 23:59:59 GMT",
		"Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Mon, 01 Jan 0001 00:00:00 GMT",
	} {
		want, err := http.ParseTime(s)
		require.NoError(t, err, s)
		got, ok := parseDate(s)
		require.True(t, ok, s)
		require.Equal(t, want.Unix(), got, s)
	}
	for _, s := range []string{
		"", "yesterday", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
		"Sun, 06 Nov 1994 24:49:37 GMT", "Sun, 00 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 19x4 08:49:37 GMT", "Sun, 06 ovN 1994 08:49:37 GMT",
	} {
		_, ok := parseDate(s)
		require.False(t, ok, s)
	}
}

// FuzzParseDate checks the hand-written date parser against http.ParseTime.
func FuzzParseDate(f *testing.F) {
	f.Add("Sun, 06 Nov 1994 08:49:37 GMT")
	f.Add("Sun, 31 Feb 1994 08:49:37 GMT")
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseDate(s)
		want, err := http.ParseTime(s)
		if ok != (err == nil) || ok && got != want.Unix() {
			t.Fatalf("%q: got %d %v, time.Parse %v %v", s, got, ok, want, err)
		}
	})
}
