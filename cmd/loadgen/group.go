package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/loadgen"
)

// groupFlags are the group scenario's command line.
type groupFlags struct {
	cfg         loadgen.GroupConfig
	th          loadgen.GroupThresholds
	jsonOut     bool
	allowRemote bool
	logLevel    string
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
	fs.BoolVar(&f.jsonOut, "json", false, "print one JSON object instead of the table")
	fs.Float64Var(&f.th.MaxLoss, "max-loss", -1, "fail if the loss ratio exceeds this (0..1; negative: no check)")
	fs.IntVar(&f.th.MaxStreams, "max-streams", -1, "fail if any member heard more speakers at once (negative: no check)")
	fs.IntVar(&f.th.MaxFailed, "max-failed", -1, "fail if more members failed (negative: no check)")
	fs.BoolVar(&f.allowRemote, "allow-remote", false, "allow targets other than loopback and 198.18.0.0/15")
	fs.StringVar(&f.logLevel, "log-level", "warn", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, u := range []string{c.URL, c.MetricsURL} {
		if u == "" {
			continue
		}
		if err := loadgen.CheckTarget(u, f.allowRemote); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func runGroup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, err := parseGroup(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return exitUsage
	}
	if f.cfg.Logger, err = newLogger(f.logLevel, stderr); err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return exitUsage
	}
	f.cfg.Progress = stderr

	rep, runErr := loadgen.RunGroup(ctx, f.cfg)
	if rep == nil {
		fmt.Fprintln(stderr, "loadgen:", runErr)
		return exitUsage
	}
	code := exitOK
	write := loadgen.WriteGroupTable
	if f.jsonOut {
		write = loadgen.WriteGroupJSON
	}
	if err := write(stdout, rep); err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		code = exitBroken
	}
	if runErr != nil {
		fmt.Fprintln(stderr, "loadgen: run failed:", runErr)
		code = exitBroken
	}
	for _, v := range f.th.Check(rep) {
		fmt.Fprintln(stderr, "loadgen: threshold broken:", v)
		code = exitBroken
	}
	return code
}
