// Package turn is talkrelay's embedded TURN server (pion/turn): relays for
// clients that cannot reach the SFU's media ports directly, over UDP, TCP and
// TLS, with short-lived credentials by the TURN REST API convention. It is no
// open relay: a relay exchanges datagrams with the SFU's own media endpoints
// only, and each user holds a bounded number of allocations.
package turn

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/pion/stun/v4"
	pturn "github.com/pion/turn/v5"
)

// AnyPort as a listener's port picks a free one (tests).
const AnyPort = -1

// Defaults of the Config fields left zero.
const (
	DefaultRealm                 = "talkrelay"
	DefaultCredentialTTL         = 6 * time.Hour
	DefaultMaxAllocationsPerUser = 10
)

const methodAllocate = stun.MethodAllocate

// Peer is one media endpoint of the SFU: relays reach nothing else.
type Peer struct {
	// Local is the media socket's address.
	Local netip.AddrPort
	// Public is the address clients were told for it: Local itself, or the
	// address a 1:1 NAT maps to it.
	Public netip.AddrPort
}

// Config configures a Server.
type Config struct {
	// Secret is the shared secret credentials are derived from. Required.
	Secret string
	// Realm is the TURN realm (default DefaultRealm).
	Realm string
	// Host is the host the handed-out URLs name: a domain the TLS
	// certificate is valid for, or an IP address. Default: the first
	// ListenIPs address.
	Host string
	// ListenIPs are the addresses every listener binds to. Required.
	ListenIPs []netip.Addr
	// UDPPort, TCPPort and TLSPort are the listeners' ports: 0 leaves that
	// listener off, AnyPort picks a free one. TLSPort needs TLS.
	UDPPort, TCPPort, TLSPort int
	TLS                       *tls.Config
	// Peers are the SFU's media endpoints, the only addresses relays reach.
	// Required.
	Peers []Peer
	// RelayIP is the address relay sockets bind to; default the first
	// peer's local address.
	RelayIP netip.Addr
	// CredentialTTL is how long handed-out credentials admit new
	// allocations (default DefaultCredentialTTL).
	CredentialTTL time.Duration
	// MaxAllocationsPerUser bounds the allocations one identity holds at once
	// (default DefaultMaxAllocationsPerUser): a participant's two peer
	// connections take one per TURN URL each, at most six.
	MaxAllocationsPerUser int
	// AllocationLifetime caps the lifetime a client may ask for (default
	// pion's 10 minutes); clients refresh before it ends.
	AllocationLifetime time.Duration
	Logger             *slog.Logger
}

// Server is a running TURN server.
type Server struct {
	cfg   Config
	log   *slog.Logger
	srv   *pturn.Server
	quota *quota
	ports [3]int // udp, tcp, tls; 0 when off

	refused atomic.Uint64 // permissions refused
	dropped atomic.Uint64 // datagrams dropped by relay sockets
}

// ICEServer is how a client reaches the server: what a WebRTC ICE server
// entry (RTCIceServer) holds.
type ICEServer struct {
	URLs       []string
	Username   string
	Credential string
}

// Stats are the server's counters.
type Stats struct {
	// Allocations is the relays open now.
	Allocations int
	// RefusedPermissions counts permissions refused for a peer that is not
	// the SFU; DroppedDatagrams the datagrams relay sockets dropped because
	// they were to or from anything but a media endpoint.
	RefusedPermissions, DroppedDatagrams uint64
}

// New opens the listeners and serves at once.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Secret == "":
		return nil, errors.New("turn: a secret is required")
	case len(cfg.ListenIPs) == 0:
		return nil, errors.New("turn: no listen address")
	case len(cfg.Peers) == 0:
		return nil, errors.New("turn: no media endpoint to relay to")
	case cfg.UDPPort == 0 && cfg.TCPPort == 0 && cfg.TLSPort == 0:
		return nil, errors.New("turn: every listener is off")
	case cfg.TLSPort != 0 && cfg.TLS == nil:
		return nil, errors.New("turn: a TLS listener needs a certificate")
	}
	if cfg.Realm == "" {
		cfg.Realm = DefaultRealm
	}
	if cfg.Host == "" {
		cfg.Host = cfg.ListenIPs[0].String()
	}
	if !cfg.RelayIP.IsValid() {
		cfg.RelayIP = cfg.Peers[0].Local.Addr()
	}
	if cfg.CredentialTTL <= 0 {
		cfg.CredentialTTL = DefaultCredentialTTL
	}
	if cfg.MaxAllocationsPerUser <= 0 {
		cfg.MaxAllocationsPerUser = DefaultMaxAllocationsPerUser
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, quota: newQuota(cfg.MaxAllocationsPerUser)}
	sc, err := s.listen()
	if err != nil {
		return nil, err
	}
	sc.Realm = cfg.Realm
	sc.AuthHandler = s.authenticate
	sc.QuotaHandler = s.quota.allow
	sc.EventHandler = pturn.EventHandler{OnAllocationCreated: s.quota.created, OnAllocationDeleted: s.quota.deleted}
	sc.AllocationLifetime = cfg.AllocationLifetime
	sc.LoggerFactory = pionLogger{cfg.Logger}
	if s.srv, err = pturn.NewServer(sc); err != nil {
		closeListeners(sc)
		return nil, fmt.Errorf("turn: %w", err)
	}
	return s, nil
}

// listen opens every listener on every listen address. With AnyPort, the
// first address picks the port and the others take the same, so that one
// URL names each listener.
func (s *Server) listen() (pturn.ServerConfig, error) {
	var sc pturn.ServerConfig
	gen := &relays{s: s, ip: s.cfg.RelayIP}
	for i, want := range [3]int{s.cfg.UDPPort, s.cfg.TCPPort, s.cfg.TLSPort} {
		if want == 0 {
			continue
		}
		for _, ip := range s.cfg.ListenIPs {
			port := s.ports[i] // the port the first address got
			if port == 0 && want != AnyPort {
				port = want
			}
			at := netip.AddrPortFrom(ip, uint16(port))
			var local net.Addr
			switch i {
			case 0:
				pc, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(at))
				if err != nil {
					closeListeners(sc)
					return sc, fmt.Errorf("turn: listen udp %s: %w", at, err)
				}
				growBuffers(pc)
				sc.PacketConnConfigs = append(sc.PacketConnConfigs, pturn.PacketConnConfig{
					PacketConn: pc, RelayAddressGenerator: gen, PermissionHandler: s.permitted,
				})
				local = pc.LocalAddr()
			default:
				tl, err := net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(at))
				if err != nil {
					closeListeners(sc)
					return sc, fmt.Errorf("turn: listen tcp %s: %w", at, err)
				}
				var ln net.Listener = trackConns(tl)
				if i == 2 {
					ln = tls.NewListener(ln, s.cfg.TLS)
				}
				sc.ListenerConfigs = append(sc.ListenerConfigs, pturn.ListenerConfig{
					Listener: ln, RelayAddressGenerator: gen, PermissionHandler: s.permitted,
				})
				local = tl.Addr()
			}
			if s.ports[i] == 0 {
				_, p, _ := net.SplitHostPort(local.String())
				s.ports[i], _ = strconv.Atoi(p)
			}
		}
	}
	return sc, nil
}

func closeListeners(sc pturn.ServerConfig) {
	for _, c := range sc.PacketConnConfigs {
		c.PacketConn.Close()
	}
	for _, c := range sc.ListenerConfigs {
		c.Listener.Close()
	}
}

// Ports returns the listeners' ports, 0 for those that are off.
func (s *Server) Ports() (udp, tcp, tls int) { return s.ports[0], s.ports[1], s.ports[2] }

// URLs are the server's TURN URLs, UDP first: clients try them all and
// keep what works.
func (s *Server) URLs() []string {
	host := s.cfg.Host
	if a, err := netip.ParseAddr(host); err == nil && a.Is6() {
		host = "[" + host + "]"
	}
	var urls []string
	if p := s.ports[0]; p != 0 {
		urls = append(urls, fmt.Sprintf("turn:%s:%d?transport=udp", host, p))
	}
	if p := s.ports[1]; p != 0 {
		urls = append(urls, fmt.Sprintf("turn:%s:%d?transport=tcp", host, p))
	}
	if p := s.ports[2]; p != 0 {
		urls = append(urls, fmt.Sprintf("turns:%s:%d?transport=tcp", host, p))
	}
	return urls
}

// ICEServer returns the server's URLs with fresh credentials for identity,
// which admit new allocations for the configured CredentialTTL.
func (s *Server) ICEServer(identity string) ICEServer {
	user, pass := Credentials(s.cfg.Secret, identity, time.Now().Add(s.cfg.CredentialTTL))
	return ICEServer{URLs: s.URLs(), Username: user, Credential: pass}
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	return Stats{
		Allocations:        s.srv.AllocationCount(),
		RefusedPermissions: s.refused.Load(),
		DroppedDatagrams:   s.dropped.Load(),
	}
}

// Close stops the listeners; allocations end with them.
func (s *Server) Close() error {
	if err := s.srv.Close(); err != nil {
		return fmt.Errorf("turn: close: %w", err)
	}
	return nil
}
