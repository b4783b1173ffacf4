// Command sfu runs a talkrelay node, or with `sfu token` mints an access token.
//
//	go run ./cmd/sfu                      # a complete dev server, no set-up
//	go run ./cmd/sfu token --room R --identity I --role host
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/server"
	"github.com/talkrelay/talkrelay/signal/wire"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "token" {
		os.Exit(runToken(os.Args[2:]))
	}
	os.Exit(runServer(os.Args[1:]))
}

// envOr returns the environment variable name's value, or def.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func envInt(name string, def int) int {
	var n int
	if v, ok := os.LookupEnv(name); ok {
		if _, err := fmt.Sscan(v, &n); err == nil {
			return n
		}
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, ok := os.LookupEnv(name); ok {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

func runServer(args []string) int {
	fs := flag.NewFlagSet("sfu", flag.ContinueOnError)
	httpAddr := fs.String("http-addr", envOr("TALKRELAY_HTTP_ADDR", ":7880"), "HTTP listen address (signaling, API) [TALKRELAY_HTTP_ADDR]")
	udpPort := fs.Int("udp-port", envInt("TALKRELAY_UDP_PORT", 7882), "UDP port for all media [TALKRELAY_UDP_PORT]")
	nodeIP := fs.String("node-ip", envOr("TALKRELAY_NODE_IP", ""), "IP address(es) to advertise to clients, comma-separated [TALKRELAY_NODE_IP]")
	dataDir := fs.String("data-dir", envOr("TALKRELAY_DATA_DIR", "./data"), "directory for stored data [TALKRELAY_DATA_DIR]")
	natsURL := fs.String("nats", envOr("TALKRELAY_NATS", ""), "external NATS (JetStream) URL, or the URLs of a NATS cluster's servers comma-separated; empty runs an embedded one under --data-dir [TALKRELAY_NATS]")
	natsReplicas := fs.Int("nats-replicas", envInt("TALKRELAY_NATS_REPLICAS", 1), "NATS servers that keep each JetStream stream and bucket; 3 on a NATS cluster of 3 or more survives losing one [TALKRELAY_NATS_REPLICAS]")
	clusterCfg := clusterFlags(fs)
	reachCfg := reachFlags(fs)
	blocked := fs.String("chat-blocked-words", envOr("TALKRELAY_CHAT_BLOCKED_WORDS", ""), "comma-separated words or phrases refused in chat [TALKRELAY_CHAT_BLOCKED_WORDS]")
	chatHistory := fs.Int("chat-history", envInt("TALKRELAY_CHAT_HISTORY", 50), "chat messages a participant receives on joining [TALKRELAY_CHAT_HISTORY]")
	maxRooms := fs.Int("max-rooms", envInt("TALKRELAY_MAX_ROOMS", 10_000), "rooms open at once before joins get server_full [TALKRELAY_MAX_ROOMS]")
	maxParticipants := fs.Int("max-participants", envInt("TALKRELAY_MAX_PARTICIPANTS", 20_000), "participants per room before joins get server_full [TALKRELAY_MAX_PARTICIPANTS]")
	maxViewers := fs.Int("max-viewers", envInt("TALKRELAY_MAX_VIEWERS", 100_000), "viewers over all rooms before viewer joins get server_full [TALKRELAY_MAX_VIEWERS]")
	maxSpeakers := fs.Int("max-speakers", envInt("TALKRELAY_MAX_SPEAKERS", 50), "participants of a group room who may speak; later ones listen [TALKRELAY_MAX_SPEAKERS]")
	ringTimeout := fs.Duration("ring-timeout", envDuration("TALKRELAY_RING_TIMEOUT", 30*time.Second), "how long a call rings before it ends unanswered [TALKRELAY_RING_TIMEOUT]")
	callGrace := fs.Duration("call-reconnect-grace", envDuration("TALKRELAY_CALL_RECONNECT_GRACE", 15*time.Second), "how long an answered call waits for a side whose connection dropped [TALKRELAY_CALL_RECONNECT_GRACE]")
	resumeWindow := fs.Duration("resume-window", envDuration("TALKRELAY_RESUME_WINDOW", 30*time.Second), "how long a participant whose signaling dropped may resume its session; negative: not at all [TALKRELAY_RESUME_WINDOW]")
	devPublic := fs.Bool("dev-public", envOr("TALKRELAY_DEV_PUBLIC", "false") == "true", "let a dev-mode server (well-known credentials) listen beyond loopback [TALKRELAY_DEV_PUBLIC]")
	origins := fs.String("allowed-origins", envOr("TALKRELAY_ALLOWED_ORIGINS", ""), "comma-separated browser origins (host patterns, e.g. app.example.com) allowed to open the WebSocket; empty allows any [TALKRELAY_ALLOWED_ORIGINS]")
	apiKey := fs.String("api-key", envOr("TALKRELAY_API_KEY", ""), "API key tokens are signed with [TALKRELAY_API_KEY]")
	apiSecret := fs.String("api-secret", envOr("TALKRELAY_API_SECRET", ""), "API secret (at least 32 bytes) [TALKRELAY_API_SECRET]")
	gso := fs.Bool("udp-gso", envOr("TALKRELAY_UDP_GSO", "true") == "true", "batch each viewer's packets into UDP GSO sends where the kernel allows [TALKRELAY_UDP_GSO]")
	debugAddr := fs.String("debug-addr", envOr("TALKRELAY_DEBUG_ADDR", ""), "if set, serve Go pprof profiles on this address (keep it private) [TALKRELAY_DEBUG_ADDR]")
	iceServers := fs.String("ice-servers", envOr("TALKRELAY_ICE_SERVERS", ""), "STUN URLs offered to clients (joined, WHIP and WHEP Link headers), comma-separated [TALKRELAY_ICE_SERVERS]")
	logLevel := fs.String("log-level", envOr("TALKRELAY_LOG_LEVEL", "info"), "debug, info, warn or error [TALKRELAY_LOG_LEVEL]")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintln(os.Stderr, "sfu: bad --log-level:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	dev := *apiKey == "" && *apiSecret == ""
	cc, err := clusterCfg(clusterFlagContext{natsURL: *natsURL, udpPort: *udpPort, dev: dev, devPublic: *devPublic})
	if err != nil {
		fmt.Fprintln(os.Stderr, "sfu:", err)
		return 2
	}
	reach, err := reachCfg(portShift(cc.NodeID != "", *udpPort))
	if err != nil {
		fmt.Fprintln(os.Stderr, "sfu:", err)
		return 2
	}
	if dev {
		*apiKey, *apiSecret = auth.DevAPIKey, auth.DevAPISecret
		log.Warn("no API key configured: DEV MODE with the well-known dev credentials; never expose this server",
			"api_key", auth.DevAPIKey, "api_secret", auth.DevAPISecret)
		if cc.NodeID != "" && !chosen(fs, "cluster-secret", "TALKRELAY_CLUSTER_SECRET") {
			log.Warn("DEV MODE cluster: the relay uses the well-known dev cluster secret", "cluster_secret", devClusterSecret)
		}
	}
	var udpListen string
	if dev && !*devPublic {
		addr, err := devListenAddr("http-addr", *httpAddr, chosen(fs, "http-addr", "TALKRELAY_HTTP_ADDR"))
		if err != nil {
			log.Error("refusing to start", "err", err)
			return 2
		}
		*httpAddr, udpListen = addr, "127.0.0.1"
		log.Info("dev mode listens on loopback only; set an API key and secret (or --dev-public) to serve others", "http_addr", addr)
	}
	nodeIPs := splitList(*nodeIP)
	srv, err := server.New(server.Config{
		UDPListenIP: udpListen, AllowedOrigins: splitList(*origins),
		HTTPAddr: *httpAddr, UDPPort: *udpPort, NodeIPs: nodeIPs, DataDir: *dataDir, NATSURL: *natsURL, NATSReplicas: *natsReplicas,
		APIKey: *apiKey, APISecret: *apiSecret, IncludeLoopback: dev, DisableGSO: !*gso, Logger: log,
		DevTokens: dev, ICEServers: iceServerList(*iceServers),
		ChatBlockedWords: splitList(*blocked), ChatHistory: *chatHistory,
		MaxRooms: *maxRooms, MaxParticipants: *maxParticipants, MaxViewers: *maxViewers, MaxSpeakers: *maxSpeakers,
		RingTimeout: *ringTimeout, CallReconnectGrace: *callGrace, ResumeWindow: *resumeWindow,
		Cluster:    cc,
		Interfaces: reach.Interfaces, ICETCPPort: reach.TCPPort, TURN: reach.TURN,
	})
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	if err := srv.Start(); err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	if *debugAddr != "" {
		stopDebug := serveDebug(*debugAddr, log)
		defer stopDebug()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	return 0
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func runToken(args []string) int {
	fs := flag.NewFlagSet("sfu token", flag.ContinueOnError)
	roomName := fs.String("room", "", "room the token is valid for")
	identity := fs.String("identity", "", "participant identity (user id)")
	name := fs.String("name", "", "display name (default: identity)")
	role := fs.String("role", "viewer", "host, viewer, caller or admin")
	roomType := fs.String("room-type", "", "live (default) or group: a group voice room, where the host moderates and viewers speak too")
	ttl := fs.Duration("ttl", 6*time.Hour, "validity")
	apiKey := fs.String("api-key", envOr("TALKRELAY_API_KEY", auth.DevAPIKey), "API key [TALKRELAY_API_KEY]")
	apiSecret := fs.String("api-secret", envOr("TALKRELAY_API_SECRET", auth.DevAPISecret), "API secret [TALKRELAY_API_SECRET]")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	m, err := auth.NewMinter(*apiKey, *apiSecret)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sfu token:", err)
		return 2
	}
	tok, err := m.Mint(auth.Grant{Identity: *identity, Name: *name, Room: *roomName, Role: auth.Role(*role), RoomType: *roomType}, *ttl)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sfu token:", err)
		return 2
	}
	fmt.Println(tok)
	return 0
}

// devListenAddr keeps a listener (flag name) of a dev-mode server, whose
// credentials everyone knows, on loopback: an address without a host (":7890",
// the default or not) moves to 127.0.0.1; a host beyond loopback asked for
// explicitly is refused.
func devListenAddr(name, addr string, explicit bool) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("bad --%s %q: %w", name, addr, err)
	}
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return addr, nil
	}
	if explicit && host != "" {
		return "", fmt.Errorf("dev mode (no API key) on --%s %q would serve the well-known dev credentials beyond this machine; bind to 127.0.0.1, configure --api-key/--api-secret, or pass --dev-public", name, addr)
	}
	return net.JoinHostPort("127.0.0.1", port), nil
}

// flagSet reports whether the command line set the named flag.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// iceServerList turns the --ice-servers URLs into the servers clients are
// offered.
func iceServerList(v string) []wire.ICEServer {
	var out []wire.ICEServer
	for _, u := range splitList(v) {
		out = append(out, wire.ICEServer{URLs: []string{u}})
	}
	return out
}
