// Command loadgen loads a talkrelay SFU and reports what its synthetic
// clients received. Scenarios: live (a host on camera and many viewers),
// call (many 1:1 calls, each side publishing and receiving) and group (a
// group voice room of speakers and listeners). It is wiring only; the
// engine is package loadgen.
//
//	go run ./cmd/loadgen live --url http://127.0.0.1:7880 --room bench --viewers 200 --duration 20s --bitrate 1500k --json
//	go run ./cmd/loadgen call --url http://127.0.0.1:7880 --pairs 20 --duration 20s --mode video --json
//	go run ./cmd/loadgen group --url http://127.0.0.1:7880 --speakers 10 --listeners 40 --duration 20s --json
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/loadgen"
)

// Exit statuses.
const (
	exitOK     = 0
	exitBroken = 1 // the run failed or broke a threshold
	exitUsage  = 2 // bad command line, refused target, unavailable scenario
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, restore the default so a second one kills a
	// teardown that takes too long.
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: loadgen live|call|group [flags]   (loadgen live -h, loadgen call -h, loadgen group -h list them)")
		return exitUsage
	}
	switch args[0] {
	case "live":
		return runLive(ctx, args[1:], stdout, stderr)
	case "call":
		return runCall(ctx, args[1:], stdout, stderr)
	case "group":
		return runGroup(ctx, args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "loadgen: unknown scenario %q; want live, call or group\n", args[0])
		return exitUsage
	}
}

// bitrateFlag accepts 1500k, 1.5M or 800000.
type bitrateFlag struct{ bps int }

func (b *bitrateFlag) String() string { return loadgen.FormatBitrate(b.bps) }
func (b *bitrateFlag) Set(s string) (err error) {
	b.bps, err = loadgen.ParseBitrate(s)
	return err
}

// newLogger logs to stderr at level (debug, info, warn or error).
func newLogger(level string, stderr io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("bad --log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: l})), nil
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// liveFlags are the live scenario's command line.
type liveFlags struct {
	cfg     loadgen.Config
	th      loadgen.Thresholds
	bitrate bitrateFlag
	outputFlags
}

func parseLive(args []string, stderr io.Writer) (*liveFlags, error) {
	f := &liveFlags{bitrate: bitrateFlag{1_500_000}, th: loadgen.NoThresholds()}
	c := &f.cfg
	fs := flag.NewFlagSet("loadgen live", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.URL, "url", "http://127.0.0.1:7880", "the SFU viewers join")
	fs.StringVar(&c.HostURL, "host-url", "", "the SFU the host publishes through (default --url)")
	fs.StringVar(&c.MetricsURL, "metrics-url", "", "the SFU's Prometheus endpoint (default <url>/metrics)")
	fs.StringVar(&c.Room, "room", "bench", "room name")
	fs.IntVar(&c.Viewers, "viewers", 10, "number of viewers")
	fs.IntVar(&c.FullViewers, "full-viewers", -1, "viewers that decrypt media fully (default min(viewers, 10))")
	fs.DurationVar(&c.Duration, "duration", 20*time.Second, "steady measuring window")
	fs.DurationVar(&c.Warmup, "warmup", 3*time.Second, "time after all joins before the window")
	fs.Var(&f.bitrate, "bitrate", "video bit rate: 1500k, 1.5M, 800000")
	fs.IntVar(&c.FPS, "fps", 30, "video frames per second")
	fs.DurationVar(&c.KeyframeInterval, "keyframe-interval", 2*time.Second, "time between scheduled keyframes")
	fs.IntVar(&c.Chatters, "chatters", 0, "viewers that send chat messages during the window")
	fs.Float64Var(&c.ChatRate, "chat-rate", 0.5, "chat messages per second per chatter (the SFU allows 20 per 30 s)")
	fs.IntVar(&c.ChatReceivers, "chat-receivers", 0, "viewers that record chat deliveries (0: all)")
	fs.StringVar(&c.APIKey, "api-key", envOr("TALKRELAY_API_KEY", auth.DevAPIKey), "API key tokens are signed with [TALKRELAY_API_KEY]")
	fs.StringVar(&c.APISecret, "api-secret", envOr("TALKRELAY_API_SECRET", auth.DevAPISecret), "API secret [TALKRELAY_API_SECRET]")
	fs.Float64Var(&c.JoinRate, "join-rate", 50, "viewers joined per second")
	fs.BoolVar(&c.ForceTCP, "force-tcp", false, "viewers reach the SFU over ICE-TCP only (with --force-relay: TURN over TCP); all decrypt")
	fs.BoolVar(&c.ForceRelay, "force-relay", false, "viewers send and receive only through the SFU's TURN server (iceTransportPolicy relay); all decrypt")
	fs.BoolFunc("viewer-gro", "light viewers take the SFU's GSO messages whole (UDP_GRO), as a real network spares the SFU per-datagram receive work; =false for comparison (default true)", func(v string) error {
		on, err := strconv.ParseBool(v)
		c.NoViewerGRO = !on
		return err
	})
	fs.DurationVar(&c.JoinTimeout, "join-timeout", 10*time.Second, "per-viewer join timeout")
	fs.DurationVar(&c.ConnectTimeout, "connect-timeout", 20*time.Second, "wait for media connections after the host publishes")
	f.register(fs, "per-viewer rows")
	fs.Float64Var(&f.th.MaxLoss, "max-loss", -1, "fail if the loss ratio exceeds this (0..1; negative: no check)")
	fs.Float64Var(&f.th.MaxChatLoss, "max-chat-loss", -1, "fail if 1 - chat delivery ratio exceeds this (0..1; negative: no check)")
	fs.DurationVar(&f.th.MaxJoinP99, "max-join-p99", 0, "fail if join p99 exceeds this")
	fs.DurationVar(&f.th.MaxFirstKeyframeP99, "max-first-keyframe-p99", 0, "fail if first-keyframe p99 exceeds this")
	fs.IntVar(&f.th.MinViewersConnected, "min-viewers-connected", 0, "fail if fewer viewers are connected")
	if err := f.parse(fs, args, &c.URL, &c.HostURL, &c.MetricsURL); err != nil {
		return nil, err
	}
	c.Bitrate = f.bitrate.bps
	return f, nil
}

func runLive(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, err := parseLive(args, stderr)
	if err != nil {
		return runScenario(err, scenario[loadgen.Report]{}, stdout, stderr)
	}
	return runScenario(nil, scenario[loadgen.Report]{
		out: &f.outputFlags,
		run: func(log *slog.Logger) (*loadgen.Report, error) {
			f.cfg.Logger, f.cfg.Progress = log, stderr
			return loadgen.Run(ctx, f.cfg)
		},
		table: loadgen.WriteTable, json: loadgen.WriteJSON[loadgen.Report],
		csv:   func(w io.Writer, r *loadgen.Report) error { return loadgen.WriteCSV(w, r.PerViewer) },
		check: f.th.Check,
	}, stdout, stderr)
}

// callFlags are the call scenario's command line.
type callFlags struct {
	cfg     loadgen.CallConfig
	th      loadgen.CallThresholds
	bitrate bitrateFlag
	outputFlags
}

func parseCall(args []string, stderr io.Writer) (*callFlags, error) {
	f := &callFlags{bitrate: bitrateFlag{loadgen.DefaultCallBitrate}, th: loadgen.NoCallThresholds()}
	c := &f.cfg
	fs := flag.NewFlagSet("loadgen call", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.URL, "url", "http://127.0.0.1:7880", "the SFU the callers connect to")
	fs.StringVar(&c.MetricsURL, "metrics-url", "", "the SFU's Prometheus endpoint (default <url>/metrics)")
	fs.IntVar(&c.Pairs, "pairs", 10, "number of 1:1 calls (two caller devices each)")
	fs.StringVar(&c.Mode, "mode", loadgen.ModeVideo, "call mode: voice or video")
	fs.DurationVar(&c.Duration, "duration", 20*time.Second, "steady measuring window")
	fs.DurationVar(&c.Warmup, "warmup", 2*time.Second, "time after every call is set up before the window")
	fs.Var(&f.bitrate, "bitrate", "video bit rate per side: 500k, 1.5M, 800000")
	fs.IntVar(&c.FPS, "fps", 30, "video frames per second")
	fs.DurationVar(&c.KeyframeInterval, "keyframe-interval", 2*time.Second, "time between scheduled keyframes")
	fs.StringVar(&c.APIKey, "api-key", envOr("TALKRELAY_API_KEY", auth.DevAPIKey), "API key tokens are signed with [TALKRELAY_API_KEY]")
	fs.StringVar(&c.APISecret, "api-secret", envOr("TALKRELAY_API_SECRET", auth.DevAPISecret), "API secret [TALKRELAY_API_SECRET]")
	fs.Float64Var(&c.PairRate, "pair-rate", 10, "calls started per second")
	fs.DurationVar(&c.JoinTimeout, "join-timeout", 10*time.Second, "per-device connection timeout")
	fs.DurationVar(&c.SetupTimeout, "setup-timeout", 20*time.Second, "per-call timeout from the invite to media flowing both ways")
	f.register(fs, "per-call rows")
	fs.Float64Var(&f.th.MaxLoss, "max-loss", -1, "fail if the loss ratio exceeds this (0..1; negative: no check)")
	fs.IntVar(&f.th.MaxFailed, "max-failed", -1, "fail if more calls failed (negative: no check)")
	fs.DurationVar(&f.th.MaxSetupP99, "max-setup-p99", 0, "fail if call setup p99 exceeds this")
	if err := f.parse(fs, args, &c.URL, &c.MetricsURL); err != nil {
		return nil, err
	}
	c.Bitrate = f.bitrate.bps
	return f, nil
}

func runCall(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, err := parseCall(args, stderr)
	if err != nil {
		return runScenario(err, scenario[loadgen.CallReport]{}, stdout, stderr)
	}
	return runScenario(nil, scenario[loadgen.CallReport]{
		out: &f.outputFlags,
		run: func(log *slog.Logger) (*loadgen.CallReport, error) {
			f.cfg.Logger, f.cfg.Progress = log, stderr
			return loadgen.RunCall(ctx, f.cfg)
		},
		table: loadgen.WriteCallTable, json: loadgen.WriteJSON[loadgen.CallReport],
		csv:   func(w io.Writer, r *loadgen.CallReport) error { return loadgen.WriteCallCSV(w, r.PerCall) },
		check: f.th.Check,
	}, stdout, stderr)
}
