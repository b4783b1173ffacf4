package loadgen

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"time"

	"github.com/talkrelay/talkrelay/auth"
)

// Config describes one run of the live scenario: a synthetic host on camera
// and Viewers watchers, measured over a steady window.
type Config struct {
	URL        string // the SFU viewers join (http://host:port)
	HostURL    string // the SFU the host publishes through; "" means URL
	MetricsURL string // Prometheus endpoint of the SFU; "" means URL + /metrics
	Room       string

	Viewers int
	// FullViewers of the Viewers decrypt media (latency, keyframes); the
	// rest are light. Negative means DefaultFullViewers(Viewers).
	FullViewers int

	Duration time.Duration // the steady measuring window
	// Warmup runs after all viewers joined and connected, before the
	// window, so join bursts and keyframe floods are not measured as steady
	// state.
	Warmup time.Duration

	Bitrate          int // video bits/s
	FPS              int
	KeyframeInterval time.Duration

	// Chatters of the Viewers (spread over full and light ones) each send
	// ChatRate messages per second during the window on the chat data
	// channel the SFU opens. ChatReceivers of the Viewers, 0 meaning all,
	// record every message that arrives. ChatDrain bounds the wait after
	// the window for acks and deliveries still in flight (default 5 s).
	Chatters      int
	ChatRate      float64
	ChatReceivers int
	ChatDrain     time.Duration

	APIKey, APISecret string

	// ForceTCP makes viewers reach the SFU over ICE-TCP only, ForceRelay
	// through its TURN server only (both: TURN over TCP), as viewers behind
	// networks that block UDP do. Every viewer then decrypts in full: light
	// viewers count packets on a UDP socket of their own, which these paths
	// do not use. The host publishes over UDP as usual.
	ForceTCP, ForceRelay bool

	// NoViewerGRO makes light viewers read datagram by datagram instead of
	// taking the SFU's GSO messages whole (UDP_GRO). On loopback the kernel
	// charges receive work to the sender, so this raises the SFU's measured
	// CPU by work a real network does elsewhere; for comparison.
	NoViewerGRO bool

	// JoinRate is viewers joined per second, so joins do not stampede the
	// SFU's signaling (and this machine's handshakes) all at once.
	JoinRate float64
	// JoinTimeout bounds each viewer's join; ConnectTimeout bounds the wait,
	// after the host publishes, for every viewer's media connection;
	// TeardownTimeout bounds closing everything. Zero means 10 s, 20 s, 15 s.
	JoinTimeout, ConnectTimeout, TeardownTimeout time.Duration

	Logger *slog.Logger // nil discards
	// Progress receives a status line every ProgressInterval (default 1 s);
	// nil prints none.
	Progress         io.Writer
	ProgressInterval time.Duration
}

// DefaultFullViewers is how many of n viewers decrypt fully unless told
// otherwise: enough for latency percentiles, few enough to stay cheap.
func DefaultFullViewers(n int) int { return min(n, 10) }

// Chat rates a chatter may be given: slower than one message in 1000 s is
// no load, faster than 100/s is not a person.
const (
	minChatRate = 0.001
	maxChatRate = 100.0
)

// spread reports whether item i of n is one of k picked evenly across them,
// and which of the k it is.
func spread(i, k, n int) (int, bool) {
	if k <= 0 || n <= 0 {
		return -1, false
	}
	if (i+1)*k/n > i*k/n {
		return i * k / n, true
	}
	return -1, false
}

// withDefaults fills the zero fields that have a sensible default.
func (c Config) withDefaults() Config {
	if c.HostURL == "" {
		c.HostURL = c.URL
	}
	if c.FullViewers < 0 {
		c.FullViewers = DefaultFullViewers(c.Viewers)
	}
	if c.FPS == 0 {
		c.FPS = 30
	}
	if c.KeyframeInterval == 0 {
		c.KeyframeInterval = 2 * time.Second
	}
	if c.ForceTCP || c.ForceRelay {
		c.FullViewers = c.Viewers
	}
	if c.APIKey == "" && c.APISecret == "" {
		c.APIKey, c.APISecret = auth.DevAPIKey, auth.DevAPISecret
	}
	if c.JoinRate == 0 {
		c.JoinRate = 50
	}
	if c.JoinTimeout == 0 {
		c.JoinTimeout = 10 * time.Second
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 20 * time.Second
	}
	if c.TeardownTimeout == 0 {
		c.TeardownTimeout = 15 * time.Second
	}
	if c.ChatReceivers == 0 {
		c.ChatReceivers = c.Viewers
	}
	if c.ChatDrain == 0 {
		c.ChatDrain = 5 * time.Second
	}
	if c.ProgressInterval == 0 {
		c.ProgressInterval = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// metricsURL is where the SFU's CPU counter is scraped.
func (c Config) metricsURL() (string, error) { return metricsURLFor(c.URL, c.MetricsURL) }

// metricsURLFor is the metrics endpoint given, or else the SFU's own
// /metrics.
func metricsURLFor(sfuURL, metricsURL string) (string, error) {
	if metricsURL != "" {
		return metricsURL, nil
	}
	u, err := url.JoinPath(sfuURL, "metrics")
	if err != nil {
		return "", fmt.Errorf("loadgen: metrics url from %q: %w", sfuURL, err)
	}
	return u, nil
}

// validate reports every problem at once, so a user fixes a command line in
// one go.
func (c Config) validate() error {
	var errs []error
	check := func(ok bool, msg string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(msg, args...))
		}
	}
	check(c.URL != "", "url is required")
	check(c.Room != "", "room is required")
	check(c.Viewers >= 1, "viewers must be at least 1, got %d", c.Viewers)
	check(c.FullViewers <= c.Viewers, "full viewers (%d) cannot exceed viewers (%d)", c.FullViewers, c.Viewers)
	check(c.Duration > 0, "duration must be positive, got %v", c.Duration)
	check(c.Warmup >= 0, "warmup cannot be negative, got %v", c.Warmup)
	check(c.Bitrate > 0, "bitrate must be positive, got %d", c.Bitrate)
	check(c.FPS > 0 && c.FPS <= 240, "fps must be in 1..240, got %d", c.FPS)
	check(c.KeyframeInterval > 0, "keyframe interval must be positive, got %v", c.KeyframeInterval)
	check(c.JoinRate > 0, "join rate must be positive, got %v", c.JoinRate)
	check(c.Chatters >= 0 && c.Chatters <= c.Viewers, "chatters must be in 0..viewers (%d), got %d", c.Viewers, c.Chatters)
	check(c.Chatters == 0 || (c.ChatRate >= minChatRate && c.ChatRate <= maxChatRate),
		"chat rate must be in %g..%g messages/s per chatter, got %g", minChatRate, maxChatRate, c.ChatRate)
	check(c.ChatReceivers >= 0 && c.ChatReceivers <= c.Viewers, "chat receivers must be in 0..viewers (%d), got %d", c.Viewers, c.ChatReceivers)
	check(c.ChatDrain >= 0, "chat drain cannot be negative, got %v", c.ChatDrain)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("loadgen: config: %w", err)
	}
	return nil
}
