package server_test

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"
	pturn "github.com/pion/turn/v5"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/server"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// withTURN runs the embedded TURN server on UDP and TCP.
func withTURN(c *server.Config) {
	c.TURN = server.TURNConfig{UDPPort: server.AnyPort, TCPPort: server.AnyPort}
}

// selectedPair is the candidate pair c's subscriber connection uses.
func selectedPair(t *testing.T, c *client.Client) *webrtc.ICECandidatePair {
	t.Helper()
	pair, err := c.Subscriber().SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		t.Fatalf("no selected candidate pair: %v", err)
	}
	return pair
}

// relayProtocol is how pc reaches its TURN server for the local relay
// candidate of the selected pair: "udp", "tcp" or "tls".
func relayProtocol(t *testing.T, pc *webrtc.PeerConnection, local *webrtc.ICECandidate) string {
	t.Helper()
	for _, s := range pc.GetStats() {
		if cs, ok := s.(webrtc.ICECandidateStats); ok && cs.Type == webrtc.StatsTypeLocalCandidate &&
			cs.CandidateType == webrtc.ICECandidateTypeRelay && int(cs.Port) == int(local.Port) {
			return cs.RelayProtocol
		}
	}
	t.Fatalf("no stats for local candidate %s", local)
	return ""
}

// watch joins a viewer with tweak and waits until it received a steady
// stream of video and audio, and for NACKs to repair what was lost.
func (e *env) watch(room, identity string, tweak func(*client.Config)) (*client.Client, *recorder) {
	e.t.Helper()
	r := &recorder{}
	c := e.joinWith(room, identity, auth.RoleViewer, r.onTrack, tweak)
	waitFor(e.t, 15*time.Second, identity+" to receive media", func() bool {
		v, a := r.counts()
		return v > 150 && a > 50
	})
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if v, a := r.snapshot(); missing(v) == 0 && missing(a) == 0 {
			break
		}
	}
	return c, r
}

// checkDelivery fails unless pkts lack at most 1 % of the sequence numbers
// they span, and the stream is otherwise sound (checkContinuous) when none
// is missing. On a loaded machine a burst may still overflow a socket on the
// way, and NACKs repair losses only within the 64-packet SRTP replay window
// of pion's receiver.
func checkDelivery(t *testing.T, who string, pkts []packet) {
	t.Helper()
	if lost := missing(pkts); lost > 0 {
		t.Logf("%s: %d of %d packets missing", who, lost, len(pkts)+lost)
		if lost*100 > len(pkts)+lost {
			t.Fatalf("%s: %d of %d packets missing, more than 1 %%", who, lost, len(pkts)+lost)
		}
		return
	}
	checkContinuous(t, who, pkts)
}

// A viewer that gathers only TCP candidates (a client whose UDP is blocked)
// receives the live over ICE-TCP, complete and in order.
func TestViewerOverICETCP(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.ICETCPPort = server.AnyPort })
	if e.node.Reachability().TCP == nil {
		t.Fatal("no TCP candidates advertised")
	}
	e.startHost("tcp", "host", hostOptions{})
	tcpAPI, err := client.NewAPI(client.APIOptions{IncludeLoopback: true, ForceTCP: true})
	if err != nil {
		t.Fatal(err)
	}
	v, r := e.watch("tcp", "viewer", func(c *client.Config) { c.API = tcpAPI })
	pair := selectedPair(t, v)
	if pair.Local.Protocol != webrtc.ICEProtocolTCP || pair.Remote.TCPType != "passive" {
		t.Fatalf("selected pair %s is not ICE-TCP to the SFU's passive candidate", pair)
	}
	video, audio := r.snapshot()
	checkDelivery(t, "tcp viewer video", video)
	checkDelivery(t, "tcp viewer audio", audio)
	t.Logf("over %s: %d video, %d audio packets", pair, len(video), len(audio))
}

// roomyNet is the standard network with the socket receive buffer the SFU's
// own sockets get. A relayed viewer's socket toward its TURN server takes
// the picture group a joiner gets at once in one burst, which pion's client
// reads slowly under the race detector; the kernel's default buffer (about
// 90 such datagrams) would lose the rest.
type roomyNet struct{ transport.Net }

func (n roomyNet) ListenPacket(network, address string) (net.PacketConn, error) {
	c, err := n.Net.ListenPacket(network, address)
	if uc, ok := c.(*net.UDPConn); ok {
		_ = uc.SetReadBuffer(4 << 20)
	}
	return c, err
}

// A viewer forced to relay receives the live through the embedded TURN
// server, reached over UDP and over TCP, with the credentials joined gave it.
func TestViewerThroughTURN(t *testing.T) {
	e := newEnv(t, withTURN)
	e.startHost("relay", "host", hostOptions{})
	std, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	api, err := client.NewAPI(client.APIOptions{
		IncludeLoopback: true, NetworkTypes: []webrtc.NetworkType{webrtc.NetworkTypeUDP4}, Net: roomyNet{std},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, transport := range []string{client.TURNOverUDP, client.TURNOverTCP} {
		t.Run(transport, func(t *testing.T) {
			v, r := e.watch("relay", "viewer-"+transport, func(c *client.Config) {
				c.API = api
				c.ForceRelay = true
				c.TURNTransport = transport
			})
			pair := selectedPair(t, v)
			if pair.Local.Typ != webrtc.ICECandidateTypeRelay {
				t.Fatalf("selected pair %s is not relayed", pair)
			}
			if got := relayProtocol(t, v.Subscriber(), pair.Local); got != transport {
				t.Fatalf("relay reached over %q, want %q", got, transport)
			}
			video, audio := r.snapshot()
			checkDelivery(t, transport+" relay video", video)
			checkDelivery(t, transport+" relay audio", audio)
			t.Logf("through TURN over %s (%s): %d video, %d audio packets", transport, pair, len(video), len(audio))
		})
	}
	if n := e.node.TURN().Stats().Allocations; n == 0 {
		t.Fatal("no TURN allocation")
	}
}

// turnAddr is the host:port a TURN URL names.
func turnAddr(t *testing.T, url string) string {
	t.Helper()
	_, rest, ok := strings.Cut(url, ":")
	hostPort, _, _ := strings.Cut(rest, "?")
	if !ok || hostPort == "" {
		t.Fatalf("bad TURN url %q", url)
	}
	return hostPort
}

// turnClient connects a raw pion TURN client to url (UDP or TCP).
func turnClient(t *testing.T, url, user, pass string) *pturn.Client {
	t.Helper()
	addr := turnAddr(t, url)
	var conn net.PacketConn
	if strings.HasSuffix(url, "transport=tcp") {
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn = pturn.NewSTUNConn(c)
	} else {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		conn = c
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

// joinedTURN joins a viewer and returns the TURN entry of its joined.
func joinedTURN(t *testing.T, e *env, room, identity string) wire.ICEServer {
	t.Helper()
	c := e.join(room, identity, auth.RoleViewer, nil)
	servers := c.Joined().ICEServers
	if len(servers) != 1 || len(servers[0].URLs) != 2 {
		t.Fatalf("joined.ice_servers = %+v, want one TURN entry with a UDP and a TCP URL", servers)
	}
	s := servers[0]
	if !strings.HasSuffix(s.Username, ":"+identity) || s.Credential == "" {
		t.Fatalf("credentials %q / %q are not <expiry>:%s", s.Username, s.Credential, identity)
	}
	return s
}

// joined.ice_servers carry working credentials for this SFU's TURN server,
// which refuses wrong ones and relays to the SFU's media port only: a
// permission toward another address is refused, a datagram toward another
// port of the SFU's own address dropped.
func TestJoinedTURNCredentials(t *testing.T) {
	e := newEnv(t, withTURN)
	s := joinedTURN(t, e, "creds", "viewer")
	media := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: e.node.MediaPort()}
	elsewhere := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: e.node.MediaPort()}
	other, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}) // another service on the node
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for _, url := range s.URLs {
		t.Run(url, func(t *testing.T) {
			c := turnClient(t, url, s.Username, s.Credential)
			relay, err := c.Allocate()
			if err != nil {
				t.Fatalf("allocate with joined's credentials: %v", err)
			}
			defer relay.Close()
			if err := c.CreatePermission(media); err != nil {
				t.Fatalf("permission toward the SFU's media port: %v", err)
			}
			if err := c.CreatePermission(elsewhere); err == nil {
				t.Fatal("permission toward 127.0.0.2 granted: an open relay")
			}
			dropped := e.node.TURN().Stats().DroppedDatagrams
			if _, err := relay.WriteTo([]byte("not for the sfu"), other.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			_ = other.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			if n, _, err := other.ReadFrom(make([]byte, 64)); err == nil {
				t.Fatalf("relay delivered %d bytes to another port of the SFU's address", n)
			}
			waitFor(t, 2*time.Second, "the drop to be counted", func() bool {
				return e.node.TURN().Stats().DroppedDatagrams > dropped
			})

			bad := turnClient(t, url, s.Username, s.Credential+"x")
			if r, err := bad.Allocate(); err == nil {
				r.Close()
				t.Fatal("allocation granted with a wrong password")
			}
			forged := turnClient(t, url, "9"+s.Username, s.Credential)
			if r, err := forged.Allocate(); err == nil {
				r.Close()
				t.Fatal("allocation granted with an altered expiry")
			}
		})
	}
	if got := e.node.TURN().Stats().RefusedPermissions; got < 2 {
		t.Fatalf("%d refused permissions counted, want 2", got)
	}
}

// Credentials expire: past their TTL they admit no new relay, while a fresh
// join gets new ones that do.
func TestTURNCredentialsExpire(t *testing.T) {
	e := newEnv(t, func(c *server.Config) {
		withTURN(c)
		c.TURN.CredentialTTL = time.Second
	})
	s := joinedTURN(t, e, "expiry", "viewer")
	time.Sleep(2100 * time.Millisecond) // the expiry counts whole seconds
	if r, err := turnClient(t, s.URLs[0], s.Username, s.Credential).Allocate(); err == nil {
		r.Close()
		t.Fatal("allocation granted with expired credentials")
	}
	fresh := joinedTURN(t, e, "expiry", "viewer2")
	r, err := turnClient(t, fresh.URLs[0], fresh.Username, fresh.Credential).Allocate()
	if err != nil {
		t.Fatalf("fresh credentials: %v", err)
	}
	r.Close()
}

// A host whose UDP is blocked publishes over ICE-TCP, or through the TURN
// server over TCP, and a viewer on UDP receives the live.
func TestHostOverTCPPaths(t *testing.T) {
	e := newEnv(t, withTURN, func(c *server.Config) { c.ICETCPPort = server.AnyPort })
	tcpAPI, err := client.NewAPI(client.APIOptions{IncludeLoopback: true, ForceTCP: true})
	if err != nil {
		t.Fatal(err)
	}
	for name, tweak := range map[string]func(*client.Config){
		"ice-tcp":  func(c *client.Config) { c.API = tcpAPI },
		"turn-tcp": func(c *client.Config) { c.ForceRelay, c.TURNTransport = true, client.TURNOverTCP },
	} {
		t.Run(name, func(t *testing.T) {
			h := e.startHost(name, "host", hostOptions{config: tweak})
			pair, err := h.c.Publisher().SCTP().Transport().ICETransport().GetSelectedCandidatePair()
			if err != nil || pair == nil {
				t.Fatalf("no selected pair: %v", err)
			}
			if name == "ice-tcp" && pair.Local.Protocol != webrtc.ICEProtocolTCP {
				t.Fatalf("host pair %s is not TCP", pair)
			}
			if name == "turn-tcp" && pair.Local.Typ != webrtc.ICECandidateTypeRelay {
				t.Fatalf("host pair %s is not relayed", pair)
			}
			_, r := e.watch(name, "viewer", nil)
			video, audio := r.snapshot()
			checkDelivery(t, name+" viewer video", video)
			checkDelivery(t, name+" viewer audio", audio)
		})
	}
}

// Behind a 1:1 NAT (--node-ip) clients are told the public address for UDP,
// TCP and TURN, and the TURN server accepts permissions toward that public
// media address (it delivers to the local socket) but no other.
func TestReachabilityBehindNAT(t *testing.T) {
	const public = "198.51.100.7" // a documentation address: nothing is sent to it
	e := newEnv(t, withTURN, func(c *server.Config) {
		c.NodeIPs = []string{public}
		c.ICETCPPort = server.AnyPort
	})
	r := e.node.Reachability()
	if len(r.UDP) != 1 || r.UDP[0].Addr().String() != public || len(r.TCP) != 1 || r.TCP[0].Addr().String() != public {
		t.Fatalf("reachability %+v: want the public address for UDP and TCP", r)
	}
	if r.Public {
		t.Fatalf("a documentation address counted as public")
	}
	if len(r.TURN) != 2 || !strings.HasPrefix(r.TURN[0], "turn:"+public+":") {
		t.Fatalf("TURN urls %v: want the public address", r.TURN)
	}
	// No client joins: its ICE checks would go to the advertised address.
	// The credentials come as joined would carry them, and the TURN
	// listener is reached on loopback, where it is bound.
	servers := e.node.ICEServers("viewer")
	if len(servers) != 1 || !strings.Contains(servers[0].URLs[0], public) {
		t.Fatalf("ice servers %+v: want the public address", servers)
	}
	s := servers[0]
	_, tcpPort := turnPorts(t, e)
	c := turnClient(t, "turn:127.0.0.1:"+tcpPort+"?transport=tcp", s.Username, s.Credential)
	if _, err := c.Allocate(); err != nil {
		t.Fatal(err)
	}
	mediaPublic := &net.UDPAddr{IP: net.ParseIP(public), Port: e.node.MediaPort()}
	if err := c.CreatePermission(mediaPublic); err != nil {
		t.Fatalf("permission toward the public media address: %v", err)
	}
	if err := c.CreatePermission(&net.UDPAddr{IP: net.ParseIP("198.51.100.8"), Port: e.node.MediaPort()}); err == nil {
		t.Fatal("permission toward another address granted")
	}
}

// turnPorts returns the TURN server's UDP and TCP ports.
func turnPorts(t *testing.T, e *env) (udp, tcp string) {
	t.Helper()
	u, p, _ := e.node.TURN().Ports()
	return strconv.Itoa(u), strconv.Itoa(p)
}
