package server_test

import (
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/client"
)

// cutNet is the host's network with a switch that silently drops every UDP
// packet in both directions, as a client's path does when its network changes
// under it. The WebSocket (TCP) is not affected.
type cutNet struct {
	*stdnet.Net
	cut atomic.Bool
}

func (n *cutNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return &cutConn{UDPConn: c, cut: &n.cut}, nil
}

// ListenPacket is refused: pion's UDP ICE listens with ListenUDP, and a
// socket the switch did not cover would make the test lie.
func (n *cutNet) ListenPacket(network, address string) (net.PacketConn, error) {
	return nil, errors.New("cutNet: ListenPacket not supported")
}

type cutConn struct {
	transport.UDPConn
	cut *atomic.Bool
}

func (c *cutConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, a, err := c.UDPConn.ReadFrom(b)
		if err != nil || !c.cut.Load() {
			return n, a, err
		}
	}
}

func (c *cutConn) ReadFromUDP(b []byte) (int, *net.UDPAddr, error) {
	for {
		n, a, err := c.UDPConn.ReadFromUDP(b)
		if err != nil || !c.cut.Load() {
			return n, a, err
		}
	}
}

func (c *cutConn) WriteTo(b []byte, a net.Addr) (int, error) {
	if c.cut.Load() {
		return len(b), nil
	}
	return c.UDPConn.WriteTo(b, a)
}

func (c *cutConn) WriteToUDP(b []byte, a *net.UDPAddr) (int, error) {
	if c.cut.Load() {
		return len(b), nil
	}
	return c.UDPConn.WriteToUDP(b, a)
}

// A viewer whose media path dies while its signaling stays up is restarted by
// the server once its subscriber has been disconnected for a while: the new
// path carries the same tracks on. It takes about ten seconds (pion notices a
// silent path after five, the server waits three more).
func TestServerRestartsICEOfADisconnectedViewer(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for ICE timeouts")
	}
	e := newEnv(t)
	std, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	cn := &cutNet{Net: std}
	api, err := client.NewAPI(client.APIOptions{IncludeLoopback: true, NetworkTypes: []webrtc.NetworkType{webrtc.NetworkTypeUDP4}, Net: cn})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	viewer := e.joinWith("cut", "viewer", auth.RoleViewer, rec.onTrack, func(c *client.Config) { c.API = api })
	e.startHost("cut", "host", hostOptions{})
	waitFor(t, 5*time.Second, "media", func() bool { v, a := rec.counts(); return v > 30 && a > 20 })

	before := remoteUfrag(viewer.Subscriber())
	cn.cut.Store(true)
	waitFor(t, 15*time.Second, "the server's restart offer", func() bool { return remoteUfrag(viewer.Subscriber()) != before })
	v0, a0 := rec.counts()
	cn.cut.Store(false)
	waitFor(t, 10*time.Second, "media on the new path", func() bool { v, a := rec.counts(); return v > v0+30 && a > a0+20 })
	video, _ := rec.snapshot()
	if ssrc := video[len(video)-1].ssrc; ssrc != video[0].ssrc {
		t.Fatalf("video ssrc changed %d -> %d: the restart renegotiated the track", video[0].ssrc, ssrc)
	}
}
