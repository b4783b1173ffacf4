package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"time"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/loadgen"
)

// groupFlags are the group scenario's command line.
type groupFlags struct {
	cfg loadgen.GroupConfig
	th  loadgen.GroupThresholds
	outputFlags
}

func parseGroup(args []string, stderr io.Writer) (*groupFlags, error) {
	f := &groupFlags{th: loadgen.NoGroupThresholds()}
	c := &f.cfg
	fs := flag.NewFlagSet("loadgen group", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.URL, "url", "http://127.0.0.1:7880", "the SFU the members join")
	fs.StringVar(&c.MetricsURL, "metrics-url", "", "the SFU's Prometheus endpoint (default <url>/metrics)")
	fs.StringVar(&c.Room, "room", "group-bench", "group room name")
	fs.IntVar(&c.Speakers, "speakers", 10, "members who speak (publish Opus at different, varying loudness); the first hosts")
	fs.IntVar(&c.Listeners, "listeners", 40, "members who only listen")
	fs.DurationVar(&c.Duration, "duration", 20*time.Second, "steady measuring window")
	fs.DurationVar(&c.Warmup, "warmup", 3*time.Second, "time after every member is set up before the window")
	fs.DurationVar(&c.SampleInterval, "sample-interval", 100*time.Millisecond, "how often each member's concurrent streams are counted")
	fs.DurationVar(&c.StreamWindow, "stream-window", 300*time.Millisecond, "a stream counts when it delivered a packet this recently")
	fs.DurationVar(&c.TurnInterval, "turn", 2*time.Second, "how long each speaker in turn talks over the others")
	fs.StringVar(&c.APIKey, "api-key", envOr("TALKRELAY_API_KEY", auth.DevAPIKey), "API key tokens are signed with [TALKRELAY_API_KEY]")
	fs.StringVar(&c.APISecret, "api-secret", envOr("TALKRELAY_API_SECRET", auth.DevAPISecret), "API secret [TALKRELAY_API_SECRET]")
	fs.Float64Var(&c.JoinRate, "join-rate", 20, "members joined per second")
	fs.DurationVar(&c.JoinTimeout, "join-timeout", 10*time.Second, "per-member join (and publish) timeout")
	fs.DurationVar(&c.ConnectTimeout, "connect-timeout", 20*time.Second, "wait for media connections after the last join")
	f.register(fs, "")
	fs.Float64Var(&f.th.MaxLoss, "max-loss", -1, "fail if the loss ratio exceeds this (0..1; negative: no check)")
	fs.IntVar(&f.th.MaxStreams, "max-streams", -1, "fail if any member heard more speakers at once (negative: no check)")
	fs.IntVar(&f.th.MaxFailed, "max-failed", -1, "fail if more members failed (negative: no check)")
	if err := f.parse(fs, args, &c.URL, &c.MetricsURL); err != nil {
		return nil, err
	}
	return f, nil
}

func runGroup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, err := parseGroup(args, stderr)
	if err != nil {
		return runScenario(err, scenario[loadgen.GroupReport]{}, stdout, stderr)
	}
	return runScenario(nil, scenario[loadgen.GroupReport]{
		out: &f.outputFlags,
		run: func(log *slog.Logger) (*loadgen.GroupReport, error) {
			f.cfg.Logger, f.cfg.Progress = log, stderr
			return loadgen.RunGroup(ctx, f.cfg)
		},
		table: loadgen.WriteGroupTable, json: loadgen.WriteJSON[loadgen.GroupReport],
		check: f.th.Check,
	}, stdout, stderr)
}
