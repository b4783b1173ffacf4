package loadgen

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/talkrelay/talkrelay/auth"
)

// Call modes, as the SFU names them.
const (
	ModeVoice = "voice"
	ModeVideo = "video"
)

// DefaultCallBitrate is the video bit rate each side of a call sends unless
// told otherwise: a typical 1:1 video call, well below a live's.
const DefaultCallBitrate = 500_000

// CallConfig describes one run of the call scenario: Pairs 1:1 calls between
// synthetic caller devices, each side publishing to and receiving from the
// other, measured over a steady window.
type CallConfig struct {
	URL        string // the SFU (http://host:port)
	MetricsURL string // Prometheus endpoint of the SFU; "" means URL + /metrics

	Pairs int
	Mode  string // ModeVoice or ModeVideo

	Duration time.Duration // the steady measuring window
	// Warmup runs after every call is set up, before the window, so setup
	// bursts and their keyframes are not measured as steady state.
	Warmup time.Duration

	Bitrate          int // video bits/s per side; 0 means DefaultCallBitrate
	FPS              int
	KeyframeInterval time.Duration

	APIKey, APISecret string

	// PairRate is calls started per second (each connects two devices), so
	// setup does not stampede the SFU's signaling all at once.
	PairRate float64
	// JoinTimeout bounds each device's connection; SetupTimeout bounds each
	// call from the invite to media flowing both ways; TeardownTimeout bounds
	// hanging up and closing everything. Zero means 10 s, 20 s, 15 s.
	JoinTimeout, SetupTimeout, TeardownTimeout time.Duration

	Logger *slog.Logger // nil discards
	// Progress receives a status line every ProgressInterval (default 1 s);
	// nil prints none.
	Progress         io.Writer
	ProgressInterval time.Duration
}

// withDefaults fills the zero fields that have a sensible default.
func (c CallConfig) withDefaults() CallConfig {
	if c.Mode == "" {
		c.Mode = ModeVideo
	}
	if c.Bitrate == 0 {
		c.Bitrate = DefaultCallBitrate
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
	if c.PairRate == 0 {
		c.PairRate = 10
	}
	if c.JoinTimeout == 0 {
		c.JoinTimeout = 10 * time.Second
	}
	if c.SetupTimeout == 0 {
		c.SetupTimeout = 20 * time.Second
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

// video reports whether the calls carry video.
func (c CallConfig) video() bool { return c.Mode == ModeVideo }

// validate reports every problem at once.
func (c CallConfig) validate() error {
	var errs []error
	check := func(ok bool, msg string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(msg, args...))
		}
	}
	check(c.URL != "", "url is required")
	check(c.Pairs >= 1, "pairs must be at least 1, got %d", c.Pairs)
	check(c.Mode == ModeVoice || c.Mode == ModeVideo, "mode must be %s or %s, got %q", ModeVoice, ModeVideo, c.Mode)
	check(c.Duration > 0, "duration must be positive, got %v", c.Duration)
	check(c.Warmup >= 0, "warmup cannot be negative, got %v", c.Warmup)
	check(c.Bitrate > 0, "bitrate must be positive, got %d", c.Bitrate)
	check(c.FPS > 0 && c.FPS <= 240, "fps must be in 1..240, got %d", c.FPS)
	check(c.KeyframeInterval > 0, "keyframe interval must be positive, got %v", c.KeyframeInterval)
	check(c.PairRate > 0, "pair rate must be positive, got %v", c.PairRate)
	check(c.JoinTimeout > 0 && c.SetupTimeout > 0 && c.TeardownTimeout > 0, "timeouts must be positive")
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("loadgen: call config: %w", err)
	}
	return nil
}
