package loadgen

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// ErrRemoteTarget is returned (wrapped) by CheckTarget for a host that is
// neither loopback nor in the benchmark networks.
var ErrRemoteTarget = errors.New("refusing a target that is not loopback (127.0.0.0/8, ::1, localhost) or a 198.18.0.0/15 test network; pass --allow-remote if you own it")

// benchmarkNet is RFC 2544's network for benchmarking interconnect devices,
// where lab SFUs live.
func benchmarkNet() netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, 0, 0}), 15)
}

// CheckTarget refuses to aim load at anything but this machine or a
// benchmark network unless allowRemote is set: a load generator pointed at
// a server one does not own is a denial-of-service attack. Host names other
// than localhost are refused rather than resolved, since a name can point
// anywhere.
func CheckTarget(rawURL string, allowRemote bool) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("loadgen: url %q: %w", rawURL, err)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("loadgen: url %q has no host", rawURL)
	}
	if allowRemote || isLocalTarget(host) {
		return nil
	}
	return fmt.Errorf("loadgen: %s: %w", host, ErrRemoteTarget)
}

func isLocalTarget(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	addr = addr.Unmap().WithZone("")
	return addr.IsLoopback() || benchmarkNet().Contains(addr)
}

// netPlan is where light viewers bind their sockets: the source address
// this machine would use towards the SFU, so each mux advertises one
// concrete candidate.
type netPlan struct {
	localIP  net.IP
	loopback bool // pion skips loopback candidates unless told otherwise
}

// planNetwork finds the local address routed towards rawURL's host. It
// sends nothing: connecting a UDP socket only consults the routing table.
func planNetwork(rawURL string) (netPlan, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return netPlan{}, fmt.Errorf("loadgen: url %q: %w", rawURL, err)
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		host = "127.0.0.1"
	}
	ra, err := net.ResolveUDPAddr("udp4", net.JoinHostPort(host, "9"))
	if err != nil {
		return netPlan{}, fmt.Errorf("loadgen: resolve %s: %w", host, err)
	}
	c, err := net.DialUDP("udp4", nil, ra)
	if err != nil {
		return netPlan{}, fmt.Errorf("loadgen: route to %s: %w", host, err)
	}
	defer c.Close()
	ip := c.LocalAddr().(*net.UDPAddr).IP
	return netPlan{localIP: ip, loopback: ip.IsLoopback()}, nil
}
