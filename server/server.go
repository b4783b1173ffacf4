// Package server assembles a talkrelay node: the media engine, rooms, signaling
// and the HTTP API on one listener. cmd/sfu and the tests start it the same way.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/call"
	"github.com/talkrelay/talkrelay/chat"
	"github.com/talkrelay/talkrelay/cluster"
	"github.com/talkrelay/talkrelay/match"
	"github.com/talkrelay/talkrelay/media"
	"github.com/talkrelay/talkrelay/metrics"
	"github.com/talkrelay/talkrelay/room"
	"github.com/talkrelay/talkrelay/signal"
	"github.com/talkrelay/talkrelay/signal/wire"
	"github.com/talkrelay/talkrelay/store"
	"github.com/talkrelay/talkrelay/turn"
	"github.com/talkrelay/talkrelay/whip"
)

// Config is a node's configuration. The zero value plus API credentials is a
// working single node.
type Config struct {
	HTTPAddr string // default ":7880"
	UDPPort  int    // media port; default 7882, 0 picks one (tests)
	// UDPListenIP binds media to one address (tests use 127.0.0.1).
	UDPListenIP string
	// NodeIPs are the addresses advertised to clients (for 1:1 NAT): a public
	// address, or "public/local" for one local address.
	NodeIPs []string
	// Interfaces limits media and TURN to these network interfaces'
	// addresses; empty uses them all.
	Interfaces []string
	// ICETCPPort is the one TCP port for ICE over TCP, offered beside UDP to
	// clients whose UDP is blocked; 0 leaves it off, AnyPort picks a free one.
	ICETCPPort int
	// TURN configures the embedded TURN server; its zero value runs none.
	TURN TURNConfig
	// IncludeLoopback offers loopback candidates (dev mode, tests).
	IncludeLoopback bool
	// DisableGSO sends media one datagram per packet (no UDP GSO batching).
	DisableGSO bool
	DataDir    string // default "./data"
	// NATSURL points at an external NATS (JetStream) instead of the embedded
	// one: one URL, or several servers of a NATS cluster comma-separated
	// ("nats://a:4222,nats://b:4222"), so the node moves to another server when
	// one dies.
	NATSURL string
	// NATSReplicas is how many servers of the NATS cluster keep each of the
	// node's JetStream streams and buckets (default 1; 3 on a cluster of three
	// or more JetStream servers survives losing one). The embedded NATS is one
	// server: 1 only.
	NATSReplicas int
	// Cluster, with NATSURL, makes this node one of a cluster (cluster.go).
	Cluster ClusterConfig
	// ChatBlockedWords are words and phrases refused in chat messages.
	ChatBlockedWords []string
	// ChatHistory is how many recent messages a participant receives on joining
	// (default 50).
	ChatHistory int
	// MessageRate and MessageBurst bound the signaling messages one connection
	// may send (defaults 50/s, burst 200).
	MessageRate  float64
	MessageBurst int
	// MaxRooms and MaxParticipants (per room) bound what joins accept
	// (defaults 10,000 and 20,000).
	MaxRooms        int
	MaxParticipants int
	// MaxViewers bounds the viewers of all rooms on this node (default 100,000).
	MaxViewers int
	// MaxSpeakers is how many participants of a group room may speak
	// (default 50); later ones listen.
	MaxSpeakers int
	// ChatRateLimit is each identity's chat token bucket (default 20 per 30 s; a
	// negative Count switches it off).
	ChatRateLimit chat.RateLimit
	APIKey        string
	APISecret     string
	// HostGrace: how long a live waits for a host whose connection dropped.
	HostGrace time.Duration
	// ResumeWindow: how long a participant whose signaling dropped stays in
	// its room for the client to resume the session (default 30 s; negative:
	// not at all).
	ResumeWindow time.Duration
	// JoinTimeout: how long a new connection may take to join.
	JoinTimeout time.Duration
	// IdleTimeout: how long a connection may stay silent (clients ping).
	IdleTimeout time.Duration
	// AllowedOrigins restricts which browser origins may open the WebSocket
	// (host patterns); empty allows any.
	AllowedOrigins []string
	// MatchWiden are the random-matching queue's widening steps (default:
	// interests stop counting after 10 s of waiting, every preference after 30 s).
	MatchWiden []match.Widening
	// RingTimeout: how long a call rings unanswered (default 30 s).
	RingTimeout time.Duration
	// CallReconnectGrace: how long an answered call waits for a side whose
	// connection dropped (default 15 s).
	CallReconnectGrace time.Duration
	// DevTokens serves POST /dev/token, which mints a token for anyone who
	// asks, so the browser app works with no set-up. Dev mode only (cmd/sfu
	// sets it when no API key is configured); never on a reachable server.
	DevTokens bool
	// ICEServers are STUN/TURN servers offered to clients besides the
	// embedded TURN server (joined.ice_servers, WHIP and WHEP Link headers).
	ICEServers []wire.ICEServer
	// WHIPSessionTimeout ends a WHIP or WHEP session whose media connection
	// has not come up, or stayed disconnected, that long (default 15 s).
	WHIPSessionTimeout time.Duration
	Logger             *slog.Logger
}

// Server is a running node.
type Server struct {
	cfg    Config
	log    *slog.Logger
	engine *media.Engine
	rooms  *room.Manager
	signal *signal.Handler
	verify *auth.Verifier
	metric *metrics.Registry
	store  *store.Store
	calls  call.Store // call settings, users and call history (the store)
	chat   *chat.Hub
	phone  *call.Service
	whip   *whip.Handler // WHIP and WHEP sessions
	turn   *turn.Server  // nil without TURN
	http   *http.Server
	ln     net.Listener
	// cluster is the node's cluster membership; nil on a single node.
	cluster atomic.Pointer[cluster.Node]
}

// New prepares a node: it opens the media port but serves nothing until Start.
func New(cfg Config) (*Server, error) {
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = ":7880"
	}
	if cfg.DataDir == "" {
		cfg.DataDir = "./data"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.APIKey == "" || len(cfg.APISecret) < auth.MinSecretLen {
		return nil, fmt.Errorf("server: api key and a secret of at least %d bytes are required", auth.MinSecretLen)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("server: data dir: %w", err)
	}
	st, err := store.Open(context.Background(), store.Config{DataDir: cfg.DataDir, NATSURL: cfg.NATSURL, Replicas: cfg.NATSReplicas, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("server: open store: %w", err)
	}
	reg := metrics.New()
	met := metrics.NewSFU(reg.Registerer())
	engine, err := media.NewEngine(media.EngineConfig{
		UDPPort: cfg.UDPPort, ListenIP: cfg.UDPListenIP, NodeIPs: cfg.NodeIPs, Interfaces: cfg.Interfaces,
		ICETCP: cfg.ICETCPPort != 0, TCPPort: max(cfg.ICETCPPort, 0),
		IncludeLoopback: cfg.IncludeLoopback, DisableGSO: cfg.DisableGSO, Logger: cfg.Logger,
		Metrics: met,
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, engine: engine, metric: reg, store: st, calls: st}
	s.verify = auth.NewVerifier(map[string]string{cfg.APIKey: cfg.APISecret})
	s.chat = chat.NewHub(chat.Config{
		Store: chatStore{st}, Logger: cfg.Logger,
		BlockedWords: cfg.ChatBlockedWords, HistoryOnJoin: cfg.ChatHistory, RateLimit: cfg.ChatRateLimit,
		Metrics: met,
	})
	s.rooms = room.NewManager(room.Config{
		Engine: engine, Lives: st, Logger: cfg.Logger, HostGrace: cfg.HostGrace, ResumeWindow: cfg.ResumeWindow,
		Chat: s.chat, Banned: st.Banned,
		MaxRooms: cfg.MaxRooms, MaxParticipants: cfg.MaxParticipants, MaxViewers: cfg.MaxViewers, MaxSpeakers: cfg.MaxSpeakers, Metrics: met,
		ICEServers: s.ICEServers, Nodes: s.clusterNodes, ContinueLive: s.continueLive,
	})
	phone, err := call.NewService(call.Config{
		Rooms: s.rooms, Store: st, Logger: cfg.Logger, Metrics: met,
		RingTimeout: cfg.RingTimeout, ReconnectGrace: cfg.CallReconnectGrace, ICEServers: s.ICEServers,
		Match: &match.Config{Widen: matchWiden(cfg.MatchWiden)},
		ReportMatch: func(ctx context.Context, reporter, reported, callID, reason string) error {
			return st.AddReport(ctx, store.Report{Room: "match", Reporter: reporter, Reason: fmt.Sprintf("user %q (call %s): %s", reported, callID, reason)})
		},
	})
	if err != nil {
		engine.Close()
		st.Close()
		return nil, err
	}
	s.phone = phone
	s.signal = signal.NewHandler(signal.Config{
		Rooms: s.rooms, Calls: s.phone, Verifier: s.verify, Logger: cfg.Logger,
		AllowedOrigins: cfg.AllowedOrigins,
		JoinTimeout:    cfg.JoinTimeout, IdleTimeout: cfg.IdleTimeout,
		MessageRate: cfg.MessageRate, MessageBurst: cfg.MessageBurst, Metrics: met,
		Redirect: s.redirect,
	})
	s.whip = whip.New(whip.Config{
		Rooms: s.rooms, Verifier: s.verify, Logger: cfg.Logger,
		ICEServers: s.ICEServers, SessionTimeout: cfg.WHIPSessionTimeout, Redirect: s.redirect,
	})
	// Scrape-time collectors: forwarding counters and room counts are read from
	// their owners when Prometheus asks, so the packet path records nothing more.
	if err := reg.Register(
		metrics.NewMediaCollector(engine.MediaCounters),
		metrics.NewRoomCollector(s.rooms.Counts),
	); err != nil {
		engine.Close()
		st.Close()
		return nil, err
	}
	if s.turn, err = newTURN(cfg, engine); err != nil {
		engine.Close()
		st.Close()
		return nil, err
	}
	s.http = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// Start listens on the HTTP address and serves in the background.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.cfg.HTTPAddr)
	if err != nil {
		s.closeTURN()
		s.engine.Close()
		s.store.Close()
		return fmt.Errorf("server: listen %s: %w", s.cfg.HTTPAddr, err)
	}
	s.ln = ln
	if err := s.startCluster(); err != nil {
		ln.Close()
		s.closeTURN()
		s.engine.Close()
		s.store.Close()
		return err
	}
	// HTTP server: owned by the Server, ends at Shutdown.
	go func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", "err", err)
		}
	}()
	s.log.Info("talkrelay listening", "http", ln.Addr().String(), "udp_port", s.engine.Port(), "tcp_port", s.engine.TCPPort())
	s.logReachability()
	return nil
}

// URL is the base URL clients use (http://host:port).
func (s *Server) URL() string {
	addr := s.ln.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, fmt.Sprint(addr.Port))
}

// Metrics is the node's metrics registry (tests gather from it).
func (s *Server) Metrics() *metrics.Registry { return s.metric }

// MediaPort is the UDP port media flows on.
func (s *Server) MediaPort() int { return s.engine.Port() }

// Rooms gives tests and the admin API access to room state.
func (s *Server) Rooms() *room.Manager { return s.rooms }

// WHIPSessions is the number of open WHIP and WHEP sessions.
func (s *Server) WHIPSessions() int { return s.whip.Sessions() }

// Shutdown tells participants the server is going away, ends lives, closes
// connections and stops listening, within ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	sigErr := s.signal.Shutdown(ctx) // ends lives: their records reach the store first
	whipErr := s.whip.Shutdown(ctx)  // after the rooms: lives end as server_shutdown
	s.stopCluster()                  // after the lives: their claims go with them
	httpErr := s.http.Shutdown(ctx)
	s.chat.Close()
	turnErr := s.closeTURN()
	engErr := s.engine.Close()
	storeErr := s.store.Close()
	return errors.Join(sigErr, whipErr, httpErr, turnErr, engErr, storeErr)
}

func matchWiden(w []match.Widening) []match.Widening {
	if w != nil {
		return w
	}
	return []match.Widening{
		{After: 10 * time.Second, Drop: []string{match.Interests}},
		{After: 30 * time.Second, Drop: []string{match.Gender, match.Language, match.Country}},
	}
}
