// Package signal speaks talkrelay's client protocols. The WebSocket JSON protocol
// (PROTOCOL.md) turns each connection into a room participant and its messages
// into room operations.
package signal

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/call"
	"github.com/talkrelay/talkrelay/metrics"
	"github.com/talkrelay/talkrelay/room"
)

// Config configures a Handler.
type Config struct {
	Rooms *room.Manager
	// Calls, when set, lets callers connect and call each other.
	Calls    *call.Service
	Verifier *auth.Verifier
	Logger   *slog.Logger
	// JoinTimeout is how long a new connection may take to join. Default 10 s.
	JoinTimeout time.Duration
	// IdleTimeout closes a connection that sends nothing (clients ping). Default 60 s.
	IdleTimeout time.Duration
	// WriteTimeout bounds each write to a client. Default 10 s.
	WriteTimeout time.Duration
	// MessageRate and MessageBurst bound the messages one connection may send
	// (a token bucket; trickle ICE comes in bursts). Default 50/s, burst 200.
	MessageRate  float64
	MessageBurst int
	// Metrics counts connections and times joins. Nil records into unregistered
	// metrics.
	Metrics *metrics.SFU
	// AllowedOrigins, when not empty, are the only browser origins (host
	// patterns such as "app.example.com" or "*.example.com") whose pages may
	// open the WebSocket; requests without an Origin (native clients) are
	// always allowed. Empty allows every origin: every connection must present
	// a signed token anyway.
	AllowedOrigins []string
	// ConnectRate and ConnectBurst bound new WebSockets per client IP address
	// (a token bucket). Default 100/s, burst 500: generous for NATs and load
	// tests, tight enough that one address cannot churn the server.
	ConnectRate  float64
	ConnectBurst int
	// Redirect, when set, may send a verified viewer elsewhere before it
	// joins: a non-empty URL is sent as redirect and the connection closes
	// (the cluster's placement; see package cluster).
	Redirect func(g auth.Grant) string
}

// Handler serves the signaling WebSocket.
type Handler struct {
	cfg Config
	log *slog.Logger

	perIP *ipLimiter

	mu       sync.Mutex
	conns    map[*conn]struct{}
	draining bool
	wg       sync.WaitGroup
}

// NewHandler returns a Handler for cfg.
func NewHandler(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.JoinTimeout == 0 {
		cfg.JoinTimeout = 10 * time.Second
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 60 * time.Second
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewSFU(nil)
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.MessageRate == 0 {
		cfg.MessageRate = 50
	}
	if cfg.MessageBurst == 0 {
		cfg.MessageBurst = 200
	}
	if cfg.ConnectRate == 0 {
		cfg.ConnectRate = 100
	}
	if cfg.ConnectBurst == 0 {
		cfg.ConnectBurst = 500
	}
	return &Handler{cfg: cfg, log: cfg.Logger, conns: map[*conn]struct{}{}, perIP: newIPLimiter(cfg.ConnectRate, cfg.ConnectBurst)}
}

// ServeHTTP upgrades the request to a WebSocket and serves it until it closes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	if h.draining {
		h.mu.Unlock()
		w.Header().Set("Retry-After", "5")
		http.Error(w, "server is shutting down", http.StatusServiceUnavailable)
		return
	}
	h.wg.Add(1)
	h.mu.Unlock()
	defer h.wg.Done()

	if !h.perIP.allow(clientIP(r.RemoteAddr), time.Now()) {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "too many connections from this address", http.StatusTooManyRequests)
		return
	}
	opts := &websocket.AcceptOptions{OriginPatterns: h.cfg.AllowedOrigins}
	if len(h.cfg.AllowedOrigins) == 0 {
		opts.InsecureSkipVerify = true // any origin: every connection must present a signed token
	}
	ws, err := websocket.Accept(w, r, opts)
	if err != nil {
		h.log.Debug("websocket accept", "err", err, "remote", r.RemoteAddr)
		return
	}
	c := newConn(h, ws, r.RemoteAddr)
	h.cfg.Metrics.WebSockets.Inc()
	defer h.cfg.Metrics.WebSockets.Dec()
	h.mu.Lock()
	h.conns[c] = struct{}{}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.conns, c)
		h.mu.Unlock()
	}()
	c.serve(r.Context())
}

// Shutdown refuses new connections, tells every participant the server is going
// away (ending lives and recording them), then waits for connections to close.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.draining = true
	h.mu.Unlock()
	if h.cfg.Calls != nil {
		h.cfg.Calls.Shutdown() // calls end (and are recorded) before their rooms close
	}
	h.cfg.Rooms.Shutdown()
	h.mu.Lock()
	for c := range h.conns {
		c.Close(nil) // connections that never joined
	}
	h.mu.Unlock()
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return errors.Join(errors.New("signal: connections still open at shutdown deadline"), ctx.Err())
	}
}
