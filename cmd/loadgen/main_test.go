package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/server/servertest"
)

func TestExitStatuses(t *testing.T) {
	tests := []struct {
		args []string
		code int
		say  string
	}{
		{[]string{"call", "--url", "http://203.0.113.5:7880"}, exitUsage, "--allow-remote"},
		{[]string{"call", "--pairs", "0"}, exitUsage, "pairs must be at least 1"},
		{[]string{"call", "--mode", "screen"}, exitUsage, "mode must be voice or video"},
		{[]string{"call", "--bitrate", "fast"}, exitUsage, "bitrate"},
		{[]string{"call", "extra"}, exitUsage, "unexpected arguments"},
		{nil, exitUsage, "usage"},
		{[]string{"video"}, exitUsage, "unknown scenario"},
		{[]string{"live", "--url", "http://203.0.113.5:7880"}, exitUsage, "--allow-remote"},
		{[]string{"live", "--host-url", "https://sfu.example.com"}, exitUsage, "--allow-remote"},
		{[]string{"live", "--bitrate", "fast"}, exitUsage, "bitrate"},
		{[]string{"live", "--viewers", "0"}, exitUsage, "viewers must be at least 1"},
		{[]string{"live", "--viewers", "2", "--chatters", "3"}, exitUsage, "chatters must be in 0..viewers"},
		{[]string{"live", "--chatters", "1", "--chat-rate", "0"}, exitUsage, "chat rate must be in"},
		{[]string{"live", "--chat-receivers", "11"}, exitUsage, "chat receivers must be in 0..viewers"},
	}
	for _, tc := range tests {
		var out, errOut bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errOut)
		if code != tc.code || !strings.Contains(errOut.String(), tc.say) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tc.args, code, errOut.String(), tc.code, tc.say)
		}
	}
}

func TestParseLiveDefaults(t *testing.T) {
	f, err := parseLive(strings.Fields("--url http://127.0.0.1:7880 --room bench --viewers 200 --duration 20s --bitrate 1500k --chatters 20 --chat-rate 1 --json"), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	c := f.cfg
	if c.Viewers != 200 || c.Bitrate != 1_500_000 || c.Chatters != 20 || c.ChatRate != 1 || c.ChatReceivers != 0 ||
		!f.jsonOut || c.FullViewers != -1 || c.JoinRate != 50 || f.th.MaxLoss >= 0 || f.th.MaxChatLoss >= 0 {
		t.Fatalf("parsed %+v %+v", c, f.th)
	}
	f, err = parseLive(strings.Fields("--chatters 5 --chat-receivers 50 --max-chat-loss 0.001"), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	// The default chat rate stays within the SFU's 20 messages per 30 s.
	if c := f.cfg; c.ChatRate != 0.5 || c.ChatReceivers != 50 || f.th.MaxChatLoss != 0.001 {
		t.Fatalf("parsed %+v %+v", c, f.th)
	}
}

func TestParseCallDefaults(t *testing.T) {
	f, err := parseCall(strings.Fields("--url http://127.0.0.1:7880 --pairs 20 --duration 20s --mode video --json"), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	c := f.cfg
	if c.Pairs != 20 || c.Mode != "video" || c.Duration != 20*time.Second || c.Bitrate != 500_000 || !f.jsonOut ||
		f.th.MaxLoss >= 0 || f.th.MaxFailed >= 0 || f.th.MaxSetupP99 != 0 {
		t.Fatalf("parsed %+v %+v", c, f.th)
	}
	f, err = parseCall(strings.Fields("--mode voice --max-loss 0 --max-failed 0 --max-setup-p99 2s"), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if f.cfg.Mode != "voice" || f.th.MaxLoss != 0 || f.th.MaxFailed != 0 || f.th.MaxSetupP99 != 2*time.Second {
		t.Fatalf("parsed %+v %+v", f.cfg, f.th)
	}
}

// A real call run prints its JSON report and exits 1 when a threshold breaks.
func TestCallRunsAndThresholdBreaks(t *testing.T) {
	srv := servertest.Start(t)
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"call", "--url", srv.URL, "--pairs", "1", "--mode", "voice",
		"--duration", "1s", "--warmup", "0s", "--json", "--max-setup-p99", "1ns"}, &out, &errOut)
	if code != exitBroken || !strings.Contains(errOut.String(), "threshold broken: call setup p99") {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut.String())
	}
	var rep struct {
		CallsConnected int `json:"calls_connected"`
		CallSetupMs    *struct {
			P50 float64 `json:"p50"`
		} `json:"call_setup_ms"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, out.String())
	}
	if rep.CallsConnected != 1 || rep.CallSetupMs == nil || rep.CallSetupMs.P50 <= 0 {
		t.Fatalf("report %s", out.String())
	}
}
