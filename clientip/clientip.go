// Package clientip resolves the address of the client that sent a request, for
// per-IP limits: the peer's address, or X-Forwarded-For behind trusted proxies.
package clientip

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// headerXFF is X-Forwarded-For in canonical form, so that the header map is
// read without canonicalising the name on every request.
const headerXFF = "X-Forwarded-For"

// Resolver finds a request's client address. It trusts the X-Forwarded-For
// header only when the connection comes from one of its trusted proxies, and
// then only as far as the chain of trusted proxies goes: the client is the
// right-most entry that is not a trusted proxy.
//
// The zero Resolver, and a nil *Resolver, trust no proxy: they always resolve
// to the connection's remote address. A Resolver is safe for concurrent use.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a Resolver that trusts the proxies listed, each a CIDR prefix
// ("10.0.0.0/8", "fd00::/8") or a single address ("192.0.2.7", "::1").
// Surrounding spaces are ignored; host bits set in a prefix are cleared
// ("10.1.2.3/8" is 10.0.0.0/8); IPv4-mapped IPv6 entries ("::ffff:10.0.0.0/104")
// are read as the IPv4 addresses they map. An entry that is neither is an error
// naming it. With no entry the Resolver trusts no proxy.
func New(trustedProxies ...string) (*Resolver, error) {
	r := &Resolver{}
	for _, entry := range trustedProxies {
		p, err := parseTrusted(entry)
		if err != nil {
			return nil, err
		}
		r.trusted = append(r.trusted, p)
	}
	return r, nil
}

// MustNew is New that panics on a bad entry, for lists fixed in code.
func MustNew(trustedProxies ...string) *Resolver {
	r, err := New(trustedProxies...)
	if err != nil {
		panic(err)
	}
	return r
}

func parseTrusted(entry string) (netip.Prefix, error) {
	s := strings.TrimSpace(entry)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("clientip: trusted proxy %q: %w", entry, err)
		}
		if a := p.Addr(); a.Is4In6() {
			if p.Bits() < 96 {
				return netip.Prefix{}, fmt.Errorf("clientip: trusted proxy %q: an IPv4-mapped prefix needs at least 96 bits", entry)
			}
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("clientip: trusted proxy %q: %w", entry, err)
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// TrustsProxies reports whether r trusts any proxy: when it does not, the
// address Resolve returns depends on the request's RemoteAddr alone.
func (r *Resolver) TrustsProxies() bool { return r != nil && len(r.trusted) > 0 }

// Trusted reports whether addr is one of the trusted proxies.
func (r *Resolver) Trusted(addr netip.Addr) bool {
	if r == nil || !addr.IsValid() {
		return false
	}
	addr = addr.Unmap().WithZone("")
	for _, p := range r.trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Resolve returns the address of the client that sent req.
//
// It starts from the connection's remote address (req.RemoteAddr, "host:port"
// or a bare host). When that address is not a trusted proxy, or no proxy is
// trusted, that is the answer: an X-Forwarded-For header sent by an untrusted
// peer is never read. Otherwise it walks X-Forwarded-For from right to left
// (several header lines count as one list, in order) and returns the first
// entry that is not a trusted proxy; when every entry is trusted, the
// left-most one. Entries may carry spaces, a port ("192.0.2.1:4711") or
// brackets ("[2001:db8::1]:4711", "[2001:db8::1]"). An entry that is not an
// address ("unknown", an obfuscated identifier, an empty entry) stops the
// walk: the last address known good, the trusted proxy that sent it, is
// returned.
//
// IPv4-mapped IPv6 addresses are returned as IPv4 and zones are dropped: a
// zone names an interface of this host, not a client. The result is the zero
// netip.Addr (not valid) only when RemoteAddr is not an address (a Unix socket,
// for example) and no proxy vouches for another one.
//
// Resolve does not allocate.
func (r *Resolver) Resolve(req *http.Request) netip.Addr {
	remote := parseRemote(req.RemoteAddr)
	if r == nil || len(r.trusted) == 0 || !r.Trusted(remote) {
		return remote
	}
	lines := req.Header[headerXFF]
	last := remote
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		for {
			entry := line
			comma := strings.LastIndexByte(line, ',')
			if comma >= 0 {
				entry, line = line[comma+1:], line[:comma]
			}
			a, ok := parseEntry(entry)
			if !ok {
				return last
			}
			if !r.Trusted(a) {
				return a
			}
			last = a
			if comma < 0 {
				break
			}
		}
	}
	return last
}

// parseRemote reads http.Request.RemoteAddr: "host:port", "[v6]:port", or a
// bare host. It returns the zero Addr when it is none of them.
func parseRemote(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return normalize(ap.Addr())
	}
	a, _ := parseHost(s)
	return a
}

// parseEntry reads one X-Forwarded-For entry.
func parseEntry(s string) (netip.Addr, bool) {
	return parseHost(strings.Trim(s, " \t"))
}

// parseHost reads an address with an optional port and optional brackets:
// "192.0.2.1", "192.0.2.1:80", "2001:db8::1", "[2001:db8::1]",
// "[2001:db8::1]:80".
func parseHost(s string) (netip.Addr, bool) {
	if s == "" {
		return netip.Addr{}, false
	}
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		rest := s[end+1:]
		if rest != "" && (rest[0] != ':' || !isPort(rest[1:])) {
			return netip.Addr{}, false
		}
		a, err := netip.ParseAddr(s[1:end])
		if err != nil || !a.Is6() {
			return netip.Addr{}, false
		}
		return normalize(a), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return normalize(a), true
	}
	// IPv4 with a port: exactly one colon.
	colon := strings.IndexByte(s, ':')
	if colon < 0 || strings.IndexByte(s[colon+1:], ':') >= 0 || !isPort(s[colon+1:]) {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s[:colon])
	if err != nil || !a.Is4() {
		return netip.Addr{}, false
	}
	return a, true
}

// isPort reports whether s is a decimal port number, 0 to 65535.
func isPort(s string) bool {
	if s == "" || len(s) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n <= 65535
}

// normalize unmaps IPv4-mapped IPv6 addresses and drops zones.
func normalize(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Zone() != "" {
		a = a.WithZone("")
	}
	return a
}
