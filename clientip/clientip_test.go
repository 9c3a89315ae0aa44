package clientip_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/clientip"
)

func request(remote string, xff ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = remote
	for _, v := range xff {
		r.Header.Add("X-Forwarded-For", v)
	}
	return r
}

func TestResolve(t *testing.T) {
	proxies := clientip.MustNew("10.0.0.0/8", "192.0.2.7", "fd00::/8")
	for _, tc := range []struct {
		name     string
		resolver *clientip.Resolver
		remote   string
		xff      []string
		want     string
	}{
		// No proxy configured: the header is never read.
		{"no proxies", clientip.MustNew(), "203.0.113.5:4711", []string{"198.51.100.1"}, "203.0.113.5"},
		{"nil resolver", nil, "203.0.113.5:4711", []string{"198.51.100.1"}, "203.0.113.5"},
		{"zero resolver", &clientip.Resolver{}, "203.0.113.5:4711", []string{"198.51.100.1"}, "203.0.113.5"},
		// A peer that is not a trusted proxy cannot choose its address.
		{"untrusted peer sends the header", proxies, "203.0.113.5:4711", []string{"198.51.100.1"}, "203.0.113.5"},
		{"trusted peer, no header", proxies, "10.1.2.3:4711", nil, "10.1.2.3"},
		{"one trusted proxy", proxies, "10.1.2.3:4711", []string{"198.51.100.1"}, "198.51.100.1"},
		{"trusted chain", proxies, "10.1.2.3:4711", []string{"198.51.100.1, 192.0.2.7, 10.9.9.9"}, "198.51.100.1"},
		// The client wrote 6.6.6.6 itself; the first proxy appended the real peer.
		{"spoofed entries left of the client", proxies, "10.1.2.3:4711", []string{"6.6.6.6, 7.7.7.7, 198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"spoofed trusted-looking entry left of the client", proxies, "10.1.2.3:4711", []string{"10.0.0.1, 198.51.100.1"}, "198.51.100.1"},
		{"all entries trusted: the left-most", proxies, "10.1.2.3:4711", []string{"10.0.0.9, 192.0.2.7, 10.5.5.5"}, "10.0.0.9"},
		{"several header lines, in order", proxies, "10.1.2.3:4711", []string{"6.6.6.6, 198.51.100.1", "10.2.2.2", "192.0.2.7"}, "198.51.100.1"},
		{"several header lines, client in the last", proxies, "10.1.2.3:4711", []string{"6.6.6.6", "198.51.100.1, 10.2.2.2"}, "198.51.100.1"},
		{"spaces and tabs", proxies, "10.1.2.3:4711", []string{"  6.6.6.6 ,\t198.51.100.1\t,  10.2.2.2  "}, "198.51.100.1"},
		{"entry with a port", proxies, "10.1.2.3:4711", []string{"198.51.100.1:5555"}, "198.51.100.1"},
		{"bracketed IPv6 with a port", proxies, "10.1.2.3:4711", []string{"[2001:db8::1]:5555"}, "2001:db8::1"},
		{"bracketed IPv6", proxies, "10.1.2.3:4711", []string{"[2001:db8::1]"}, "2001:db8::1"},
		{"bare IPv6", proxies, "10.1.2.3:4711", []string{"2001:db8::1, fd00::1"}, "2001:db8::1"},
		{"IPv6 peer, trusted", proxies, "[fd00::5]:4711", []string{"2001:db8::2"}, "2001:db8::2"},
		{"IPv6 peer, untrusted", proxies, "[2001:db8::9]:4711", []string{"2001:db8::2"}, "2001:db8::9"},
		{"IPv6 peer with a zone", proxies, "[fe80::1%eth0]:4711", nil, "fe80::1"},
		{"IPv4-mapped peer is unmapped and trusted", proxies, "[::ffff:10.1.2.3]:4711", []string{"198.51.100.1"}, "198.51.100.1"},
		{"IPv4-mapped entry is unmapped", proxies, "10.1.2.3:4711", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"IPv4-mapped trusted entry", proxies, "10.1.2.3:4711", []string{"198.51.100.1, [::ffff:10.0.0.1]:80"}, "198.51.100.1"},
		// An entry that is not an address ends the walk at the last good one.
		{"unknown entry stops the walk", proxies, "10.1.2.3:4711", []string{"198.51.100.1, unknown, 10.2.2.2"}, "10.2.2.2"},
		{"garbage right after the peer", proxies, "10.1.2.3:4711", []string{"198.51.100.1, _hidden"}, "10.1.2.3"},
		{"empty entry stops the walk", proxies, "10.1.2.3:4711", []string{"198.51.100.1,,10.2.2.2"}, "10.2.2.2"},
		{"empty header line", proxies, "10.1.2.3:4711", []string{""}, "10.1.2.3"},
		{"bad port", proxies, "10.1.2.3:4711", []string{"198.51.100.1:99999"}, "10.1.2.3"},
		{"IPv6 with an unbracketed port is an IPv6 address or nothing", proxies, "10.1.2.3:4711", []string{"2001:db8::1:80"}, "2001:db8::1:80"},
		{"brackets around IPv4", proxies, "10.1.2.3:4711", []string{"[198.51.100.1]"}, "10.1.2.3"},
		// RemoteAddr forms.
		{"bare remote host", proxies, "203.0.113.5", nil, "203.0.113.5"},
		{"bare remote IPv6", proxies, "2001:db8::9", nil, "2001:db8::9"},
		{"bracketed remote IPv6 without port", proxies, "[2001:db8::9]", nil, "2001:db8::9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.resolver.Resolve(request(tc.remote, tc.xff...))
			require.Equal(t, netip.MustParseAddr(tc.want), got)
		})
	}
}

func TestResolveUnparseableRemote(t *testing.T) {
	r := clientip.MustNew("10.0.0.0/8")
	for _, remote := range []string{"", "@", "/run/app.sock", "pipe:1", "example.com:80"} {
		got := r.Resolve(request(remote, "198.51.100.1"))
		require.False(t, got.IsValid(), "%q gives no address and lets no header vouch for one", remote)
	}
}

func TestNew(t *testing.T) {
	r, err := clientip.New(" 10.0.0.0/8 ", "192.0.2.7", "2001:db8::/32", "::1", "10.1.2.3/8", "::ffff:172.16.0.0/108", "fe80::1%eth0")
	require.NoError(t, err)
	for addr, want := range map[string]bool{
		"10.200.0.1":    true,
		"192.0.2.7":     true,
		"192.0.2.8":     false,
		"2001:db8::5":   true,
		"2001:db9::5":   false,
		"::1":           true,
		"172.16.3.4":    true, // from the IPv4-mapped prefix
		"172.32.0.1":    false,
		"fe80::1":       true,
		"::ffff:10.0.0": false,
	} {
		a, err := netip.ParseAddr(addr)
		if err != nil {
			require.False(t, want)
			continue
		}
		require.Equal(t, want, r.Trusted(a), addr)
	}
	require.True(t, r.Trusted(netip.MustParseAddr("::ffff:10.1.1.1")), "mapped addresses are checked as IPv4")
	require.False(t, r.Trusted(netip.Addr{}))
	require.False(t, (*clientip.Resolver)(nil).Trusted(netip.MustParseAddr("10.0.0.1")))

	for _, bad := range []string{"", "10.0.0.0/33", "not-an-ip", "10.0.0.1/", "2001:db8::/129", "::ffff:10.0.0.0/64", "10.0.0.0/8/8", "example.com"} {
		_, err := clientip.New("10.0.0.1", bad)
		require.Error(t, err, bad)
		require.Contains(t, err.Error(), strings.TrimSpace(`"`+bad+`"`), "the error names the entry")
	}
	require.Panics(t, func() { clientip.MustNew("nope") })
}

func TestResolveDoesNotAllocate(t *testing.T) {
	r := clientip.MustNew("10.0.0.0/8", "fd00::/8")
	for _, req := range []*http.Request{
		request("203.0.113.5:4711", "198.51.100.1"),
		request("10.1.2.3:4711", "6.6.6.6, 198.51.100.1, 10.2.2.2"),
		request("[fd00::1]:4711", "[2001:db8::1]:80", "fd00::2"),
	} {
		allocs := testing.AllocsPerRun(100, func() { _ = r.Resolve(req) })
		require.Zero(t, allocs, req.RemoteAddr)
	}
}
