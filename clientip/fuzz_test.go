package clientip_test

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/clientip"
)

// candidates lists every address s could be read as by a lenient reader:
// the whole string, without brackets, without a port. It is deliberately
// written differently from the package's parser.
func candidates(s string) []netip.Addr {
	var out []netip.Addr
	add := func(v string) {
		if a, err := netip.ParseAddr(v); err == nil {
			out = append(out, a.Unmap().WithZone(""))
		}
		if ap, err := netip.ParseAddrPort(v); err == nil {
			out = append(out, ap.Addr().Unmap().WithZone(""))
		}
	}
	s = strings.TrimSpace(s)
	add(s)
	if i := strings.LastIndex(s, "]"); strings.HasPrefix(s, "[") && i > 0 {
		add(s[1:i])
	}
	if i := strings.LastIndex(s, ":"); i > 0 {
		add(s[:i])
	}
	return out
}

func FuzzResolve(f *testing.F) {
	f.Add("10.1.2.3:4711", "6.6.6.6, 198.51.100.1, 10.2.2.2", "")
	f.Add("[fd00::1]:80", "[2001:db8::1]:80", "fd00::2")
	f.Add("10.1.2.3:4711", "unknown, 10.0.0.1", "")
	f.Add("203.0.113.5", "198.51.100.1", "10.0.0.1")
	f.Add("[::ffff:10.0.0.1]:1", "::ffff:198.51.100.1", "[fe80::1%eth0]:9")
	f.Add("garbage", ",,,", " ")
	res := clientip.MustNew("10.0.0.0/8", "fd00::/8", "192.0.2.7")
	none := clientip.MustNew()
	f.Fuzz(func(t *testing.T, remote, xff1, xff2 string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		var entries []string
		for _, v := range []string{xff1, xff2} {
			if v != "" {
				r.Header.Add("X-Forwarded-For", v)
				entries = append(entries, strings.Split(v, ",")...)
			}
		}
		remoteAddr := none.Resolve(r)
		got := res.Resolve(r)
		if got == remoteAddr {
			return
		}
		require.True(t, got.IsValid(), "an invalid result is only ever the remote address")
		require.True(t, res.Trusted(remoteAddr), "the header is read only from a trusted peer")
		require.Zero(t, got.Zone())
		require.False(t, got.Is4In6())
		for _, e := range entries {
			for _, c := range candidates(e) {
				if c == got {
					return
				}
			}
		}
		t.Fatalf("%s is neither the remote address %s nor an entry of %q", got, remoteAddr, entries)
	})
}
