package server

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/cluster"
	"github.com/talkrelay/talkrelay/media"
)

// ClusterConfig makes the node one of a cluster sharing Config.NATSURL (see
// package cluster). Its zero value, or an empty NATSURL, is a single node.
type ClusterConfig struct {
	// NodeID names the node in the cluster; setting it (with NATSURL and
	// RelayAddr) turns clustering on.
	NodeID string
	// RelayAddr is the UDP address of the QUIC media relay (":7884").
	RelayAddr string
	// RelayAdvertise is the relay address other nodes dial; default
	// RelayAddr, with the first non-loopback media address for an
	// unspecified host (127.0.0.1 when there is none).
	RelayAdvertise string
	// PublicURL is this node's base URL for clients, given in redirects;
	// default the HTTP listener's address, with the first address clients
	// are told for media (Config.NodeIPs or an interface's) for an
	// unspecified host.
	PublicURL string
	// Secret is the cluster key every node shares (at least 16 bytes).
	Secret string
	// MaxRelayChildren bounds the nodes that pull a room from one node (0: no
	// bound); beyond it edges pull from edges.
	MaxRelayChildren int
	// RedirectAt is the viewer count beyond which this node redirects joining
	// viewers to the least loaded node (0: Config.MaxViewers when set, else
	// never).
	RedirectAt int
	// Heartbeat is how often the node reports its load (default 1 s).
	Heartbeat time.Duration
}

func (c ClusterConfig) enabled(natsURL string) bool {
	return natsURL != "" && c.NodeID != "" && c.RelayAddr != ""
}

// startCluster joins the cluster, once the HTTP listener gives the URL.
func (s *Server) startCluster() error {
	cc := s.cfg.Cluster
	if !cc.enabled(s.cfg.NATSURL) {
		return nil
	}
	url := cc.PublicURL
	if url == "" {
		url = s.clusterURL()
	}
	redirectAt := cc.RedirectAt
	if redirectAt == 0 {
		redirectAt = s.cfg.MaxViewers
	}
	n, err := cluster.Start(cluster.Config{
		NATSURL: s.cfg.NATSURL, Replicas: s.cfg.NATSReplicas, NodeID: cc.NodeID, URL: url,
		RelayAddr: cc.RelayAddr, RelayAdvertise: s.relayAdvertise(), Secret: cc.Secret,
		MaxViewers: redirectAt, MaxRelayChildren: cc.MaxRelayChildren,
		Rooms: s.rooms, Chat: s.chat, WatchChat: s.store.WatchChat, LastChatSeq: s.store.LastChatSeq,
		EgressBytes: func() uint64 {
			a, v := s.engine.MediaCounters()
			return a.BytesOut + v.BytesOut
		},
		Heartbeat: cc.Heartbeat, OriginGrace: s.cfg.HostGrace, Logger: s.log,
	})
	if err != nil {
		return fmt.Errorf("server: cluster: %w", err)
	}
	s.cluster.Store(n)
	return nil
}

// redirect is the cluster's placement for a joining viewer ("" stays here).
func (s *Server) redirect(g auth.Grant) string {
	n := s.cluster.Load()
	if n == nil {
		return ""
	}
	return n.Redirect(g, s.rooms.Counts().Viewers)
}

// Cluster is the node's cluster membership, nil on a single node.
func (s *Server) Cluster() *cluster.Node { return s.cluster.Load() }

func (s *Server) stopCluster() {
	if n := s.cluster.Load(); n != nil {
		_ = n.Close()
	}
}

// clusterURL is the URL other nodes redirect viewers to: the HTTP listener's,
// with an address clients reach this node at when it listens on all of them.
func (s *Server) clusterURL() string {
	addr := s.ln.Addr().(*net.TCPAddr)
	if !addr.IP.IsUnspecified() {
		return s.URL()
	}
	if ip, ok := s.mediaIP(func(a media.MediaAddr) netip.Addr { return a.Public }); ok {
		return "http://" + net.JoinHostPort(ip.String(), strconv.Itoa(addr.Port))
	}
	return s.URL()
}

// relayAdvertise is the relay address other nodes dial: as configured, or
// the relay's port on this machine's first non-loopback media address when
// the relay listens on all addresses. A relay on port 0 is left to the
// cluster package (127.0.0.1 and the port bound).
func (s *Server) relayAdvertise() string {
	cc := s.cfg.Cluster
	if cc.RelayAdvertise != "" {
		return cc.RelayAdvertise
	}
	host, port, err := net.SplitHostPort(cc.RelayAddr)
	if err != nil || port == "0" {
		return ""
	}
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		return cc.RelayAddr
	}
	if ip, ok := s.mediaIP(func(a media.MediaAddr) netip.Addr { return a.Local }); ok {
		return net.JoinHostPort(ip.String(), port)
	}
	return ""
}

// mediaIP returns the first non-loopback address pick chooses from the
// engine's media addresses.
func (s *Server) mediaIP(pick func(media.MediaAddr) netip.Addr) (netip.Addr, bool) {
	for _, a := range s.engine.Addrs() {
		if ip := pick(a); ip.IsValid() && !ip.IsLoopback() {
			return ip, true
		}
	}
	return netip.Addr{}, false
}
