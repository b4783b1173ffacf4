package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/talkrelay/talkrelay/media"
	"github.com/talkrelay/talkrelay/signal/wire"
	"github.com/talkrelay/talkrelay/turn"
)

// AnyPort as a port in Config picks a free one (tests).
const AnyPort = -1

// TURNConfig configures the embedded TURN server, which relays the media of
// clients that reach neither the UDP nor the TCP media port (UDP blocked and
// only some TCP ports open, a proxy, a strict NAT). Its zero value runs none.
type TURNConfig struct {
	// UDPPort, TCPPort and TLSPort are its listeners' ports (3478, 3478 and
	// 5349 by convention; 443 for TLS gets through networks that open only
	// that port): 0 leaves a listener off, AnyPort picks a free one.
	UDPPort, TCPPort, TLSPort int
	// CertFile and KeyFile are the PEM certificate and key of the TLS
	// listener, valid for Domain.
	CertFile, KeyFile string
	// Domain is the host the TURN URLs name; TLS needs the name its
	// certificate is for. Default: the node's public address.
	Domain string
	// Realm is the TURN realm (default "talkrelay").
	Realm string
	// CredentialTTL is how long the credentials handed to a participant admit
	// new relays (default 6 h); relays made in time live on.
	CredentialTTL time.Duration
	// MaxAllocationsPerUser bounds the relays one identity holds at once
	// (default 10).
	MaxAllocationsPerUser int
}

func (c TURNConfig) enabled() bool { return c.UDPPort != 0 || c.TCPPort != 0 || c.TLSPort != 0 }

// turnSecret derives the TURN credentials' shared secret from the API
// secret, so that the one secret configured serves both and neither use
// exposes the other.
func turnSecret(apiSecret string) string {
	mac := hmac.New(sha256.New, []byte(apiSecret))
	mac.Write([]byte("talkrelay turn rest api credentials"))
	return hex.EncodeToString(mac.Sum(nil))
}

// newTURN starts the embedded TURN server on the media addresses, relaying
// to the media port only; nil when the configuration runs none.
func newTURN(cfg Config, engine *media.Engine) (*turn.Server, error) {
	tc := cfg.TURN
	if !tc.enabled() {
		return nil, nil
	}
	var tlsCfg *tls.Config
	if tc.TLSPort != 0 {
		if tc.CertFile == "" || tc.KeyFile == "" {
			return nil, errors.New("server: the TURN TLS listener needs a certificate and key file")
		}
		cert, err := tls.LoadX509KeyPair(tc.CertFile, tc.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("server: TURN certificate: %w", err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	addrs := engine.Addrs()
	port := uint16(engine.Port())
	var listen []netip.Addr
	var peers []turn.Peer
	for _, a := range addrs {
		if !slices.Contains(listen, a.Local) {
			listen = append(listen, a.Local)
		}
		peers = append(peers, turn.Peer{Local: netip.AddrPortFrom(a.Local, port), Public: netip.AddrPortFrom(a.Public, port)})
	}
	host := tc.Domain
	if host == "" {
		host = preferredAddr(addrs, func(a media.MediaAddr) netip.Addr { return a.Public }).String()
	}
	return turn.New(turn.Config{
		Secret: turnSecret(cfg.APISecret), Realm: tc.Realm, Host: host,
		ListenIPs: listen, UDPPort: tc.UDPPort, TCPPort: tc.TCPPort, TLSPort: tc.TLSPort, TLS: tlsCfg,
		Peers: peers, RelayIP: preferredAddr(addrs, func(a media.MediaAddr) netip.Addr { return a.Local }),
		CredentialTTL: tc.CredentialTTL, MaxAllocationsPerUser: tc.MaxAllocationsPerUser,
		Logger: cfg.Logger.With("component", "turn"),
	})
}

// preferredAddr picks, of the media addresses, the first public one, else
// the first that is not loopback, else the first.
func preferredAddr(addrs []media.MediaAddr, which func(media.MediaAddr) netip.Addr) netip.Addr {
	for _, ok := range []func(netip.Addr) bool{media.IsPublic, func(a netip.Addr) bool { return !a.IsLoopback() }} {
		for _, a := range addrs {
			if ok(which(a)) {
				return which(a)
			}
		}
	}
	return which(addrs[0])
}

// ICEServers are the ICE servers to hand the participant identity: the
// embedded TURN server's URLs with fresh credentials for identity, then the
// configured Config.ICEServers. Signaling puts them in joined; WHIP and WHEP
// handlers can put them in their Link headers.
func (s *Server) ICEServers(identity string) []wire.ICEServer {
	var out []wire.ICEServer
	if s.turn != nil {
		is := s.turn.ICEServer(identity)
		out = append(out, wire.ICEServer{URLs: is.URLs, Username: is.Username, Credential: is.Credential})
	}
	return append(out, s.cfg.ICEServers...)
}

// TURN is the embedded TURN server, nil when it runs none.
func (s *Server) TURN() *turn.Server { return s.turn }

// closeTURN stops the TURN server, if any.
func (s *Server) closeTURN() error {
	if s.turn == nil {
		return nil
	}
	return s.turn.Close()
}
