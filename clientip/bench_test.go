package clientip_test

import (
	"testing"

	"github.com/gatehousehq/gatehouse/clientip"
)

func BenchmarkResolve(b *testing.B) {
	res := clientip.MustNew("10.0.0.0/8", "172.16.0.0/12", "fd00::/8")
	for _, bc := range []struct {
		name, remote string
		xff          []string
	}{
		{"direct", "203.0.113.5:4711", nil},
		{"untrusted-with-header", "203.0.113.5:4711", []string{"198.51.100.1"}},
		{"one-proxy", "10.1.2.3:4711", []string{"198.51.100.1"}},
		{"chain-of-3", "10.1.2.3:4711", []string{"6.6.6.6, 198.51.100.1, 172.16.0.9, 10.2.2.2"}},
		{"ipv6-chain", "[fd00::1]:4711", []string{"[2001:db8::1]:80", "fd00::2"}},
	} {
		r := request(bc.remote, bc.xff...)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = res.Resolve(r)
			}
		})
	}
}
