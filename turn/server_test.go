package turn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	pturn "github.com/pion/turn/v5"
)

const testSecret = "turn-test-secret"

var lo = netip.MustParseAddr("127.0.0.1")

// mediaSocket stands in for one of the SFU's media sockets.
func mediaSocket(t *testing.T, ip string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func addrPort(c net.PacketConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

// startServer runs a TURN server on loopback, every listener on, relaying to
// peers only.
func startServer(t *testing.T, peers []Peer, tweak ...func(*Config)) *Server {
	t.Helper()
	cfg := Config{
		Secret: testSecret, ListenIPs: []netip.Addr{lo}, Peers: peers,
		UDPPort: AnyPort, TCPPort: AnyPort, TLSPort: AnyPort, TLS: &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}},
	}
	if os.Getenv("TALKRELAY_TEST_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	for _, f := range tweak {
		f(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// dial connects a raw pion TURN client over transport ("udp", "tcp" or "tls").
func dial(t *testing.T, s *Server, transport, user, pass string) *pturn.Client {
	t.Helper()
	udp, tcp, tlsPort := s.Ports()
	var conn net.PacketConn
	addr := "127.0.0.1:"
	switch transport {
	case "udp":
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		conn, addr = c, addr+strconv.Itoa(udp)
	case "tcp":
		c, err := net.Dial("tcp4", addr+strconv.Itoa(tcp))
		if err != nil {
			t.Fatal(err)
		}
		conn, addr = pturn.NewSTUNConn(c), addr+strconv.Itoa(tcp)
	case "tls":
		pool := x509.NewCertPool()
		pool.AddCert(s.cfg.TLS.Certificates[0].Leaf)
		c, err := tls.Dial("tcp4", addr+strconv.Itoa(tlsPort), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		conn, addr = pturn.NewSTUNConn(c), addr+strconv.Itoa(tlsPort)
	}
	c, err := pturn.NewClient(&pturn.ClientConfig{TURNServerAddr: addr, Conn: conn, Username: user, Password: pass, RTO: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); conn.Close() })
	return c
}

// selfSigned makes a certificate for 127.0.0.1.
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "talkrelay test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// exchange sends a datagram from the client through its relay to peer and one
// back, and reports whether each arrived. It tries three times: pion's client
// binds a channel after its first send and drops what the server sends on the
// channel before the binding's answer came in.
func exchange(t *testing.T, relay net.PacketConn, to net.Addr, peer *net.UDPConn) (out, back bool) {
	out, src := exchangeFrom(t, relay, to, peer)
	return out, src != nil
}

// exchangeFrom is exchange that returns where the client saw the answer
// come from (nil: it did not come).
func exchangeFrom(t *testing.T, relay net.PacketConn, to net.Addr, peer *net.UDPConn) (out bool, src net.Addr) {
	t.Helper()
	buf := make([]byte, 64)
	for range 3 {
		if _, err := relay.WriteTo([]byte("ping"), to); err != nil {
			t.Fatalf("relay write: %v", err)
		}
		_ = peer.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, from, err := peer.ReadFromUDP(buf)
		if err != nil || string(buf[:n]) != "ping" {
			continue
		}
		out = true
		if _, err := peer.WriteToUDP([]byte("pong"), from); err != nil {
			t.Fatal(err)
		}
		_ = relay.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, src, err = relay.ReadFrom(buf)
		if err == nil && string(buf[:n]) == "pong" {
			return true, src
		}
	}
	return out, nil
}

func TestRelayToMediaOverEveryTransport(t *testing.T) {
	media := mediaSocket(t, "127.0.0.1")
	s := startServer(t, []Peer{{Local: addrPort(media), Public: addrPort(media)}})
	for _, transport := range []string{"udp", "tcp", "tls"} {
		t.Run(transport, func(t *testing.T) {
			user, pass := Credentials(testSecret, "alice-"+transport, time.Now().Add(time.Minute))
			c := dial(t, s, transport, user, pass)
			relay, err := c.Allocate()
			if err != nil {
				t.Fatalf("allocate: %v", err)
			}
			defer relay.Close()
			if out, back := exchange(t, relay, media.LocalAddr(), media); !out || !back {
				t.Fatalf("relay to the media socket: out %v, back %v", out, back)
			}
		})
	}
	if !strings.HasPrefix(s.URLs()[2], "turns:127.0.0.1:") || len(s.URLs()) != 3 {
		t.Fatalf("urls %v", s.URLs())
	}
}

func TestCredentialsRefused(t *testing.T) {
	media := mediaSocket(t, "127.0.0.1")
	s := startServer(t, []Peer{{Local: addrPort(media), Public: addrPort(media)}})
	user, pass := Credentials(testSecret, "bob", time.Now().Add(time.Minute))
	expiredUser, expiredPass := Credentials(testSecret, "bob", time.Now().Add(-time.Second))
	otherUser, otherPass := Credentials("another secret", "bob", time.Now().Add(time.Minute))
	for name, up := range map[string][2]string{
		"wrong password":      {user, pass + "x"},
		"expired":             {expiredUser, expiredPass},
		"another secret":      {otherUser, otherPass},
		"not a REST username": {"bob", pass},
		"altered expiry":      {"9" + user, pass},
	} {
		t.Run(name, func(t *testing.T) {
			c := dial(t, s, "udp", up[0], up[1])
			if relay, err := c.Allocate(); err == nil {
				relay.Close()
				t.Fatal("allocation granted")
			}
		})
	}
	if n := s.Stats().Allocations; n != 0 {
		t.Fatalf("%d allocations", n)
	}
}

// Credentials that expire gate new allocations only: an allocation made in
// time keeps being refreshed and relaying after they expired.
func TestExpiryGatesNewAllocationsOnly(t *testing.T) {
	media := mediaSocket(t, "127.0.0.1")
	s := startServer(t, []Peer{{Local: addrPort(media), Public: addrPort(media)}})
	user, pass := Credentials(testSecret, "carol", time.Now().Add(time.Second))
	c := dial(t, s, "udp", user, pass)
	relay, err := c.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	time.Sleep(2100 * time.Millisecond) // past the expiry, in whole seconds
	if err := c.CreatePermission(media.LocalAddr()); err != nil {
		t.Fatalf("permission on an allocation made in time: %v", err)
	}
	if out, back := exchange(t, relay, media.LocalAddr(), media); !out || !back {
		t.Fatalf("relay after expiry: out %v, back %v", out, back)
	}
	late := dial(t, s, "udp", user, pass)
	if r, err := late.Allocate(); err == nil {
		r.Close()
		t.Fatal("new allocation granted with expired credentials")
	}
}

// No open relay: a permission toward any other address is refused, and
// datagrams toward another port of the media address, or from it, are dropped.
func TestRelaysReachOnlyMedia(t *testing.T) {
	media := mediaSocket(t, "127.0.0.1")
	other := mediaSocket(t, "127.0.0.1") // another service on the node
	elsewhere := mediaSocket(t, "127.0.0.2")
	s := startServer(t, []Peer{{Local: addrPort(media), Public: addrPort(media)}})
	user, pass := Credentials(testSecret, "mallory", time.Now().Add(time.Minute))
	c := dial(t, s, "udp", user, pass)
	relay, err := c.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()

	if err := c.CreatePermission(elsewhere.LocalAddr()); err == nil {
		t.Fatal("permission toward 127.0.0.2 granted")
	}
	if got := s.Stats().RefusedPermissions; got == 0 {
		t.Fatal("refusal not counted")
	}
	// Writing creates the permission first, which is refused too.
	if _, err := relay.WriteTo([]byte("ping"), elsewhere.LocalAddr()); err == nil {
		t.Fatal("relay write toward 127.0.0.2 accepted")
	}

	// Same IP as the media socket (permitted), another port: dropped.
	if out, _ := exchange(t, relay, other.LocalAddr(), other); out {
		t.Fatal("datagram reached another port of the media address")
	}
	if s.Stats().DroppedDatagrams == 0 {
		t.Fatal("drop not counted")
	}
	// A datagram sent to the relay address from that other port never reaches
	// the client.
	if _, err := other.WriteTo([]byte("intruder"), relay.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	// The media socket still gets through, both ways, and what the client
	// reads next is the media's answer, not the intruder.
	if out, back := exchange(t, relay, media.LocalAddr(), media); !out || !back {
		t.Fatalf("relay to the media socket: out %v, back %v", out, back)
	}

	// TCP relays (RFC 6062) would dial anywhere: not offered.
	tc := dial(t, s, "tcp", user, pass)
	if a, err := tc.AllocateTCP(); err == nil {
		a.Close()
		t.Fatal("TCP allocation granted")
	}
}

// Behind a 1:1 NAT clients name the public address; the relay delivers to the
// local socket and answers as from the public address.
func TestRelayUndoesNAT(t *testing.T) {
	media := mediaSocket(t, "127.0.0.1")
	// The "public" address is another loopback address where nothing listens
	// on that port: a datagram that went there would be lost.
	public := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.5"), addrPort(media).Port())
	s := startServer(t, []Peer{{Local: addrPort(media), Public: public}})
	user, pass := Credentials(testSecret, "dave", time.Now().Add(time.Minute))
	c := dial(t, s, "udp", user, pass)
	relay, err := c.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	out, src := exchangeFrom(t, relay, net.UDPAddrFromAddrPort(public), media)
	if !out || src == nil {
		t.Fatalf("relay through the NAT address: out %v, back %v", out, src != nil)
	}
	if got := src.(*net.UDPAddr).AddrPort(); got != public {
		t.Fatalf("answer from %v, want the public %v", got, public)
	}
}

func TestQuotaPerUser(t *testing.T) {
	media := mediaSocket(t, "127.0.0.1")
	s := startServer(t, []Peer{{Local: addrPort(media), Public: addrPort(media)}}, func(c *Config) { c.MaxAllocationsPerUser = 2 })
	user, pass := Credentials(testSecret, "erin", time.Now().Add(time.Minute))
	var relays []net.PacketConn
	for range 2 {
		r, err := dial(t, s, "udp", user, pass).Allocate()
		if err != nil {
			t.Fatal(err)
		}
		relays = append(relays, r)
	}
	if r, err := dial(t, s, "udp", user, pass).Allocate(); err == nil {
		r.Close()
		t.Fatal("third allocation granted past the quota of 2")
	}
	// Another user is not affected.
	u2, p2 := Credentials(testSecret, "frank", time.Now().Add(time.Minute))
	if _, err := dial(t, s, "udp", u2, p2).Allocate(); err != nil {
		t.Fatalf("another user: %v", err)
	}
	// Freeing one (a refresh with lifetime 0) makes room again.
	if err := relays[0].Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		r, err := dial(t, s, "udp", user, pass).Allocate()
		if err == nil {
			r.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no room after freeing an allocation: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestConfigRefused(t *testing.T) {
	peer := []Peer{{Local: netip.MustParseAddrPort("127.0.0.1:9"), Public: netip.MustParseAddrPort("127.0.0.1:9")}}
	for name, cfg := range map[string]Config{
		"no secret":                 {ListenIPs: []netip.Addr{lo}, Peers: peer, UDPPort: AnyPort},
		"no peers":                  {Secret: "s", ListenIPs: []netip.Addr{lo}, UDPPort: AnyPort},
		"all off":                   {Secret: "s", ListenIPs: []netip.Addr{lo}, Peers: peer},
		"tls without a certificate": {Secret: "s", ListenIPs: []netip.Addr{lo}, Peers: peer, TLSPort: AnyPort},
	} {
		if s, err := New(cfg); err == nil {
			s.Close()
			t.Errorf("%s: accepted", name)
		}
	}
}

// Closing the server ends its TCP and TLS clients' connections, and with
// them their allocations.
func TestCloseEndsStreamClients(t *testing.T) {
	media := mediaSocket(t, "127.0.0.1")
	s := startServer(t, []Peer{{Local: addrPort(media), Public: addrPort(media)}})
	_, tcpPort, _ := s.Ports()
	conn, err := net.Dial("tcp4", "127.0.0.1:"+strconv.Itoa(tcpPort))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	user, pass := Credentials(testSecret, "gina", time.Now().Add(time.Minute))
	c, err := pturn.NewClient(&pturn.ClientConfig{TURNServerAddr: conn.RemoteAddr().String(), Conn: pturn.NewSTUNConn(conn), Username: user, Password: pass})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Allocate(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for s.Stats().Allocations != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d allocations after Close", s.Stats().Allocations)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := conn.Write([]byte{0}); err == nil {
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := conn.Read(make([]byte, 1)); err == nil {
			t.Fatal("the client's connection is still open")
		}
	}
}
