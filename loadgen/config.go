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

	// Chatters and ChatRate are accepted for when the SFU offers chat; the
	// report says chat was not measured.
	Chatters int
	ChatRate float64

	APIKey, APISecret string

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
	if c.ProgressInterval == 0 {
		c.ProgressInterval = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// metricsURL is where the SFU's CPU counter is scraped.
func (c Config) metricsURL() (string, error) {
	if c.MetricsURL != "" {
		return c.MetricsURL, nil
	}
	u, err := url.JoinPath(c.URL, "metrics")
	if err != nil {
		return "", fmt.Errorf("loadgen: metrics url from %q: %w", c.URL, err)
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
	check(c.Chatters >= 0 && c.ChatRate >= 0, "chatters and chat rate cannot be negative")
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("loadgen: config: %w", err)
	}
	return nil
}
