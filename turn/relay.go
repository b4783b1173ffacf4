package turn

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	pturn "github.com/pion/turn/v5"
)

// Errors relays give for what they refuse.
var (
	// ErrNotMedia is returned for a datagram a client asked to relay to an
	// address other than one of the SFU's media endpoints.
	ErrNotMedia = errors.New("turn: relays reach only the SFU's media endpoints")
	// ErrTCPRelay refuses TCP allocations (RFC 6062): WebRTC never asks for
	// them, and they would open TCP connections for the client.
	ErrTCPRelay = errors.New("turn: TCP relays are not offered")
)

// No open relay: three gates keep every relay pointed at the SFU.
//  1. permitted: CreatePermission and ChannelBind toward any other IP are
//     refused (403).
//  2. peerConn.WriteTo: a datagram toward a permitted IP but another port
//     (any other service of the node) is dropped.
//  3. peerConn.ReadFrom: datagrams from anywhere but a media socket never
//     reach the client.

// permitted is the PermissionHandler: peerIP must be an address of a media
// endpoint, as the client was told it or as the socket has it.
func (s *Server) permitted(client net.Addr, peerIP net.IP) bool {
	ip, ok := netip.AddrFromSlice(peerIP)
	if ok {
		ip = ip.Unmap()
		for _, p := range s.cfg.Peers {
			if p.Public.Addr() == ip || p.Local.Addr() == ip {
				return true
			}
		}
	}
	s.refused.Add(1)
	s.log.Debug("turn: permission refused", "client", client, "peer", peerIP)
	return false
}

// relays is the RelayAddressGenerator: UDP relay sockets on one of the node's
// own addresses, which the SFU's media sockets reach directly, so the relayed
// address clients learn is never the NAT's public one the node might not be
// able to reach itself (no hairpin).
type relays struct {
	s  *Server
	ip netip.Addr
}

func (r *relays) Validate() error {
	if !r.ip.Is4() {
		return fmt.Errorf("turn: relay address %s is not IPv4", r.ip)
	}
	return nil
}

func (r *relays) AllocatePacketConn(c pturn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	if c.Network != "udp4" {
		return nil, nil, fmt.Errorf("turn: %s relays are not offered", c.Network)
	}
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(r.ip, uint16(c.RequestedPort))))
	if err != nil {
		return nil, nil, fmt.Errorf("turn: relay socket: %w", err)
	}
	growBuffers(conn)
	return &peerConn{UDPConn: conn, s: r.s}, conn.LocalAddr(), nil
}

func (r *relays) AllocateListener(pturn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, ErrTCPRelay
}

func (r *relays) AllocateConn(pturn.AllocateConnConfig) (net.Conn, error) {
	return nil, ErrTCPRelay
}

// peerConn is a relay socket that exchanges datagrams with the SFU's media
// endpoints only. It also undoes the 1:1 NAT: a client sends toward the
// public address it was told, which the node may not reach (cloud NATs
// seldom hairpin), so the datagram goes to the local socket instead, and the
// answers come back as from the public address the client expects.
type peerConn struct {
	*net.UDPConn
	s *Server

	mu   sync.Mutex
	told map[netip.AddrPort]netip.AddrPort // local endpoint → public address last sent to
}

func (c *peerConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		c.s.dropped.Add(1)
		return 0, ErrNotMedia
	}
	to := ua.AddrPort()
	to = netip.AddrPortFrom(to.Addr().Unmap(), to.Port())
	local, ok := c.s.localOf(to)
	if !ok {
		c.s.dropped.Add(1)
		return 0, fmt.Errorf("%w: %s", ErrNotMedia, to)
	}
	if local != to {
		c.mu.Lock()
		if c.told == nil {
			c.told = map[netip.AddrPort]netip.AddrPort{}
		}
		c.told[local] = to
		c.mu.Unlock()
	}
	return c.UDPConn.WriteToUDPAddrPort(b, local)
}

func (c *peerConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, from, err := c.UDPConn.ReadFromUDPAddrPort(b)
		if err != nil {
			return n, nil, err
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		public, ok := c.publicOf(from)
		if !ok {
			c.s.dropped.Add(1)
			continue
		}
		return n, net.UDPAddrFromAddrPort(public), nil
	}
}

// publicOf is how the client knows the media endpoint local: the public
// address it last sent to there, else the first it was told.
func (c *peerConn) publicOf(local netip.AddrPort) (netip.AddrPort, bool) {
	c.mu.Lock()
	pub, ok := c.told[local]
	c.mu.Unlock()
	if ok {
		return pub, true
	}
	for _, p := range c.s.cfg.Peers {
		if p.Local == local {
			return p.Public, true
		}
	}
	return netip.AddrPort{}, false
}

// localOf maps a destination a client named to the media endpoint's socket
// address; ok is false for anything that is not a media endpoint.
func (s *Server) localOf(to netip.AddrPort) (netip.AddrPort, bool) {
	for _, p := range s.cfg.Peers {
		if p.Local == to || p.Public == to {
			return p.Local, true
		}
	}
	return netip.AddrPort{}, false
}
