package server

import (
	"net/netip"
	"slices"

	"github.com/talkrelay/talkrelay/media"
)

// Reachability says how clients reach the node's media: the host candidates
// they get for UDP and TCP, and the TURN URLs.
type Reachability struct {
	UDP, TCP []netip.AddrPort // host candidates clients are offered
	TURN     []string         // TURN URLs handed out with credentials
	// Public reports whether any of them is a public address; without one,
	// only clients on the node's own networks connect.
	Public bool
}

// Reachability describes what clients get to reach the node's media.
func (s *Server) Reachability() Reachability {
	var r Reachability
	for _, a := range s.engine.Addrs() {
		udp := netip.AddrPortFrom(a.Public, uint16(s.engine.Port()))
		if !slices.Contains(r.UDP, udp) {
			r.UDP = append(r.UDP, udp)
		}
		if p := s.engine.TCPPort(); p != 0 {
			tcp := netip.AddrPortFrom(a.Public, uint16(p))
			if !slices.Contains(r.TCP, tcp) {
				r.TCP = append(r.TCP, tcp)
			}
		}
		r.Public = r.Public || media.IsPublic(a.Public)
	}
	if s.turn != nil {
		r.TURN = s.turn.URLs()
	}
	return r
}

// logReachability says at start which candidates clients will get, and
// warns when none is public: a cloud VM behind 1:1 NAT must be told its
// public address (--node-ip), which its interfaces do not show.
func (s *Server) logReachability() {
	r := s.Reachability()
	s.log.Info("clients reach media at", "udp", r.UDP, "tcp", r.TCP, "turn", r.TURN)
	if !r.Public {
		s.log.Warn("no public IP address among the media addresses: only clients on this node's own networks can connect; behind a 1:1 NAT (a cloud VM) set --node-ip to the public address")
	}
	if s.turn != nil && s.cfg.TURN.TLSPort != 0 && s.cfg.TURN.Domain == "" {
		s.log.Warn("TURN over TLS without --turn-domain: its URL names an IP address, which the certificate must then hold")
	}
}
