package loadgen

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/talkrelay/talkrelay/auth"
)

// GroupConfig describes one run of the group scenario: a group voice room
// of Speakers who publish Opus at different, varying loudness and Listeners
// who only listen, every member counting the speakers it hears at once.
type GroupConfig struct {
	URL        string // the SFU (http://host:port)
	MetricsURL string // Prometheus endpoint of the SFU; "" means URL + /metrics
	Room       string // default "group-bench"

	Speakers  int // the first is the room's host
	Listeners int

	Duration time.Duration // the steady measuring window
	// Warmup runs after every member is set up, before the window.
	Warmup time.Duration
	// SampleInterval is how often each member's concurrent streams are
	// counted (default 100 ms); a stream counts when it delivered a packet
	// within StreamWindow (default 300 ms).
	SampleInterval, StreamWindow time.Duration
	// TurnInterval is how long each speaker in turn talks over the others
	// (default 2 s): the active speakers change at least that often.
	TurnInterval time.Duration

	APIKey, APISecret string

	// JoinRate is members joined per second.
	JoinRate float64
	// JoinTimeout bounds each member's join and publish; ConnectTimeout the
	// wait for every member's media connection; TeardownTimeout the end.
	// Zero means 10 s, 20 s, 15 s.
	JoinTimeout, ConnectTimeout, TeardownTimeout time.Duration

	Logger *slog.Logger // nil discards
	// Progress receives a status line every ProgressInterval (default 1 s);
	// nil prints none.
	Progress         io.Writer
	ProgressInterval time.Duration
}

func (c GroupConfig) withDefaults() GroupConfig {
	if c.Room == "" {
		c.Room = "group-bench"
	}
	if c.SampleInterval == 0 {
		c.SampleInterval = 100 * time.Millisecond
	}
	if c.StreamWindow == 0 {
		c.StreamWindow = 300 * time.Millisecond
	}
	if c.TurnInterval == 0 {
		c.TurnInterval = 2 * time.Second
	}
	if c.APIKey == "" && c.APISecret == "" {
		c.APIKey, c.APISecret = auth.DevAPIKey, auth.DevAPISecret
	}
	if c.JoinRate == 0 {
		c.JoinRate = 20
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

// validate reports every problem at once.
func (c GroupConfig) validate() error {
	var errs []error
	check := func(ok bool, msg string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(msg, args...))
		}
	}
	check(c.URL != "", "url is required")
	check(c.Speakers >= 1, "speakers must be at least 1, got %d", c.Speakers)
	check(c.Listeners >= 0, "listeners cannot be negative, got %d", c.Listeners)
	check(c.Duration > 0, "duration must be positive, got %v", c.Duration)
	check(c.Warmup >= 0, "warmup cannot be negative, got %v", c.Warmup)
	check(c.SampleInterval > 0 && c.StreamWindow > 0 && c.TurnInterval > 0, "sample interval, stream window and turn interval must be positive")
	check(c.JoinRate > 0, "join rate must be positive, got %v", c.JoinRate)
	check(c.JoinTimeout > 0 && c.ConnectTimeout > 0 && c.TeardownTimeout > 0, "timeouts must be positive")
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("loadgen: group config: %w", err)
	}
	return nil
}
