package media

import (
	"net"
	"net/netip"
	"slices"
	"testing"
)

func TestMapAddrs(t *testing.T) {
	locals := []net.IP{net.IPv4(10, 0, 0, 5), net.IPv4(172, 17, 0, 1)}
	ma := func(l, p string) MediaAddr {
		return MediaAddr{Local: netip.MustParseAddr(l), Public: netip.MustParseAddr(p)}
	}
	for _, tc := range []struct {
		name    string
		nodeIPs []string
		want    []MediaAddr
	}{
		{"no NAT", nil, []MediaAddr{ma("10.0.0.5", "10.0.0.5"), ma("172.17.0.1", "172.17.0.1")}},
		{"one public address for all", []string{"198.51.100.7"}, []MediaAddr{ma("10.0.0.5", "198.51.100.7"), ma("172.17.0.1", "198.51.100.7")}},
		{"a pair", []string{"198.51.100.7/10.0.0.5"}, []MediaAddr{ma("10.0.0.5", "198.51.100.7"), ma("172.17.0.1", "172.17.0.1")}},
	} {
		got, err := mapAddrs(locals, tc.nodeIPs)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v %v, want %v", tc.name, got, err, tc.want)
		}
	}
	for _, bad := range [][]string{{"not-an-ip"}, {"2001:db8::1"}, {"198.51.100.7/x"}, {"198.51.100.7", "198.51.100.8/10.0.0.5"}} {
		if _, err := mapAddrs(locals, bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestIsPublic(t *testing.T) {
	for addr, want := range map[string]bool{
		"8.8.8.8": true, "1.2.3.4": true,
		"10.1.2.3": false, "192.168.1.1": false, "172.16.0.1": false, "127.0.0.1": false,
		"169.254.1.1": false, "100.64.0.1": false, "198.18.0.2": false, "203.0.113.7": false,
	} {
		if got := IsPublic(netip.MustParseAddr(addr)); got != want {
			t.Errorf("IsPublic(%s) = %v", addr, got)
		}
	}
}

func TestListenIPsInterfaces(t *testing.T) {
	ips, err := listenIPs(EngineConfig{Interfaces: []string{"lo"}, IncludeLoopback: true})
	if err != nil || len(ips) == 0 || !ips[0].IsLoopback() {
		t.Fatalf("interfaces lo: %v %v", ips, err)
	}
	if ips, err := listenIPs(EngineConfig{Interfaces: []string{"no-such-interface"}}); err == nil {
		t.Fatalf("an unknown interface gave %v", ips)
	}
}
