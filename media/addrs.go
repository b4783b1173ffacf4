package media

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
)

// MediaAddr is one address the engine's media is reached at.
type MediaAddr struct {
	// Local is the address a media socket is bound to.
	Local netip.Addr
	// Public is the address clients are told: Local itself, or the address a
	// 1:1 NAT (EngineConfig.NodeIPs) maps to it.
	Public netip.Addr
}

// listenIPs returns the addresses to open the media ports on: one socket per
// interface address, since ICE must know the address each candidate is reached
// at, which a wildcard socket hides.
func listenIPs(cfg EngineConfig) ([]net.IP, error) {
	if cfg.ListenIP != "" {
		ip := net.ParseIP(cfg.ListenIP)
		if ip == nil || ip.To4() == nil {
			return nil, fmt.Errorf("media: bad listen ip %q (IPv4 expected)", cfg.ListenIP)
		}
		return []net.IP{ip}, nil
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("media: list interfaces: %w", err)
	}
	var ips []net.IP
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || (len(cfg.Interfaces) > 0 && !slices.Contains(cfg.Interfaces, ifc.Name)) {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			return nil, fmt.Errorf("media: addresses of %s: %w", ifc.Name, err)
		}
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok || n.IP.To4() == nil || n.IP.IsLinkLocalUnicast() {
				continue
			}
			if n.IP.IsLoopback() && !cfg.IncludeLoopback {
				continue
			}
			ips = append(ips, n.IP.To4())
		}
	}
	if len(ips) == 0 {
		if len(cfg.Interfaces) > 0 {
			return nil, fmt.Errorf("media: no usable IPv4 address on interfaces %s", strings.Join(cfg.Interfaces, ","))
		}
		return nil, errors.New("media: no usable IPv4 interface address for the media port")
	}
	return ips, nil
}

// mapAddrs pairs each local address with what clients are told, following
// NodeIPs as pion's 1:1 NAT setting reads them: a bare address stands for
// every local address; "public/local" for that local address alone; a local
// address no entry names is told as it is.
func mapAddrs(locals []net.IP, nodeIPs []string) ([]MediaAddr, error) {
	var sole []netip.Addr
	pairs := map[netip.Addr][]netip.Addr{}
	for _, item := range nodeIPs {
		pub, loc, paired := strings.Cut(item, "/")
		p, err := netip.ParseAddr(pub)
		if err != nil || !p.Is4() {
			return nil, fmt.Errorf("media: bad node ip %q (an IPv4 address, or public/local)", item)
		}
		if !paired {
			sole = append(sole, p)
			continue
		}
		l, err := netip.ParseAddr(loc)
		if err != nil || !l.Is4() {
			return nil, fmt.Errorf("media: bad node ip %q (an IPv4 address, or public/local)", item)
		}
		pairs[l] = append(pairs[l], p)
	}
	if len(sole) > 0 && len(pairs) > 0 {
		return nil, errors.New("media: node ips mix bare addresses and public/local pairs")
	}
	var out []MediaAddr
	for _, ip := range locals {
		l, _ := netip.AddrFromSlice(ip.To4())
		pubs := sole
		if len(pairs) > 0 {
			pubs = pairs[l]
		}
		if len(pubs) == 0 {
			pubs = []netip.Addr{l}
		}
		for _, p := range pubs {
			out = append(out, MediaAddr{Local: l, Public: p})
		}
	}
	return out, nil
}

// Addrs lists the addresses media is reached at: each media socket's own, with
// what clients are told for it.
func (e *Engine) Addrs() []MediaAddr { return slices.Clone(e.addrs) }

// IsPublic reports whether a is an address clients on the internet can reach:
// not private, loopback, link-local, shared (carrier-grade NAT) or reserved
// for benchmarks.
func IsPublic(a netip.Addr) bool {
	if !a.IsGlobalUnicast() || a.IsPrivate() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"),   // shared address space (RFC 6598)
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking (RFC 2544)
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
}
