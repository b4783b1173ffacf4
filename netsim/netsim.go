// Package netsim imposes network conditions on the packets a pion peer
// receives, in user space: random loss and a rate cap (a token-bucket policer,
// which drops what exceeds the rate as a congested bottleneck would). Tests and
// the load generator use it to put a viewer on a bad downlink without root or
// tc netem: pass Net to the peer's SettingEngine.SetNet (client.APIOptions.Net).
package netsim

import (
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"
)

// Link holds the conditions of a downlink. Its zero value passes everything;
// change it at any time with Set.
type Link struct {
	mu      sync.Mutex
	loss    float64 // share of packets dropped at random
	rateBps int     // 0: no cap
	tokens  float64 // bytes the bucket holds
	last    time.Time
	rng     *rand.Rand

	dropped, passed uint64
}

// NewLink returns a link without loss or cap; seed makes its random losses
// reproducible.
func NewLink(seed uint64) *Link {
	return &Link{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Set changes the conditions: loss is the share of packets dropped at random
// (0 to 1), rateBps caps the rate in bits per second (0: no cap).
func (l *Link) Set(loss float64, rateBps int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.loss = min(max(loss, 0), 1)
	l.rateBps = max(rateBps, 0)
	l.tokens = float64(l.burstLocked())
	l.last = time.Now()
}

// Counts returns how many packets the link dropped and let through.
func (l *Link) Counts() (dropped, passed uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dropped, l.passed
}

// burstLocked is the policer's depth: 50 ms at the rate, at least a few packets.
func (l *Link) burstLocked() int {
	return max(l.rateBps/8/20, 4500)
}

// admit decides the fate of one packet of n bytes.
func (l *Link) admit(n int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	ok := true
	if l.loss > 0 && l.rng.Float64() < l.loss {
		ok = false
	}
	if ok && l.rateBps > 0 {
		now := time.Now()
		l.tokens = min(l.tokens+now.Sub(l.last).Seconds()*float64(l.rateBps)/8, float64(l.burstLocked()))
		l.last = now
		if l.tokens < float64(n) {
			ok = false
		} else {
			l.tokens -= float64(n)
		}
	}
	if ok {
		l.passed++
	} else {
		l.dropped++
	}
	return ok
}

// Net is the host's network with every UDP socket's incoming packets passing
// through one Link.
type Net struct {
	*stdnet.Net
	link *Link
}

// NewNet returns a Net whose sockets receive through link.
func NewNet(link *Link) (*Net, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	return &Net{Net: n, link: link}, nil
}

// ListenUDP implements transport.Net.
func (n *Net) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return &udpConn{UDPConn: c, link: n.link}, nil
}

// ListenPacket implements transport.Net.
func (n *Net) ListenPacket(network, address string) (net.PacketConn, error) {
	c, err := n.Net.ListenPacket(network, address)
	if err != nil {
		return nil, err
	}
	return &packetConn{PacketConn: c, link: n.link}, nil
}

// udpConn drops the packets its link refuses as they are read.
type udpConn struct {
	transport.UDPConn
	link *Link
}

func (c *udpConn) Read(b []byte) (int, error) {
	for {
		n, err := c.UDPConn.Read(b)
		if err != nil || c.link.admit(n) {
			return n, err
		}
	}
}

func (c *udpConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, a, err := c.UDPConn.ReadFrom(b)
		if err != nil || c.link.admit(n) {
			return n, a, err
		}
	}
}

func (c *udpConn) ReadFromUDP(b []byte) (int, *net.UDPAddr, error) {
	for {
		n, a, err := c.UDPConn.ReadFromUDP(b)
		if err != nil || c.link.admit(n) {
			return n, a, err
		}
	}
}

func (c *udpConn) ReadMsgUDP(b, oob []byte) (int, int, int, *net.UDPAddr, error) {
	for {
		n, oobn, flags, a, err := c.UDPConn.ReadMsgUDP(b, oob)
		if err != nil || c.link.admit(n) {
			return n, oobn, flags, a, err
		}
	}
}

type packetConn struct {
	net.PacketConn
	link *Link
}

func (c *packetConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, a, err := c.PacketConn.ReadFrom(b)
		if err != nil || c.link.admit(n) {
			return n, a, err
		}
	}
}
