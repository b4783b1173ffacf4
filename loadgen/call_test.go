package loadgen_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/loadgen"
)

func TestCallRun(t *testing.T) {
	for _, mode := range []string{loadgen.ModeVoice, loadgen.ModeVideo} {
		t.Run(mode, func(t *testing.T) {
			srv := startSFU(t)
			var progress bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			rep, err := loadgen.RunCall(ctx, loadgen.CallConfig{
				URL: srv.URL, Pairs: 3, Mode: mode,
				Duration: 3 * time.Second, Warmup: 500 * time.Millisecond, Bitrate: 400_000,
				Progress: &progress, ProgressInterval: 500 * time.Millisecond,
			})
			if err != nil {
				t.Fatalf("RunCall: %v", err)
			}
			js, _ := json.MarshalIndent(rep, "", "  ")
			t.Logf("report:\n%s", js)

			if rep.CallsConnected != 3 || rep.CallsFailed != 0 {
				t.Errorf("calls connected %d, failed %d, want 3 and 0: %+v", rep.CallsConnected, rep.CallsFailed, rep.Failures)
			}
			if rep.Interrupted || rep.Mode != mode || rep.Pairs != 3 {
				t.Errorf("interrupted %v, mode %q, pairs %d", rep.Interrupted, rep.Mode, rep.Pairs)
			}
			if rep.PacketsLost != 0 || rep.LossRatio != 0 {
				t.Errorf("lost %d packets (ratio %g)", rep.PacketsLost, rep.LossRatio)
			}
			if rep.DeliveredPPS <= 0 || rep.PacketsReceived == 0 || rep.PacketsSent == 0 {
				t.Errorf("delivered %.0f pps, %d received, %d sent", rep.DeliveredPPS, rep.PacketsReceived, rep.PacketsSent)
			}
			if p := rep.CallSetupMs; p == nil || p.N != 3 || p.P50 <= 0 {
				t.Errorf("call setup %+v, want a positive time per call", p)
			}
			if p := rep.LatencyMs; p == nil || p.P50 <= 0 {
				t.Errorf("latency %+v, want nonzero percentiles", p)
			}
			if rep.JoinMs == nil || rep.JoinMs.N != 6 {
				t.Errorf("join %+v, want a value per device", rep.JoinMs)
			}
			if rep.JitterAudioMs == nil || (mode == loadgen.ModeVideo) != (rep.JitterVideoMs != nil) {
				t.Errorf("jitter audio %+v video %+v in a %s call", rep.JitterAudioMs, rep.JitterVideoMs, mode)
			}
			if rep.SFUCPUUsPerPacket == nil || *rep.SFUCPUUsPerPacket <= 0 {
				t.Errorf("SFU CPU per packet %v (%s)", rep.SFUCPUUsPerPacket, rep.SFUCPUNote)
			}
			for _, c := range rep.PerCall {
				if !c.Connected || c.Received == 0 || c.SetupMs <= 0 || c.CallID == "" || c.Err != "" {
					t.Errorf("call %+v", c)
				}
			}
			if bad := loadgen.NoCallThresholds().Check(rep); len(bad) > 0 {
				t.Errorf("no thresholds, yet broken: %q", bad)
			}
			if !strings.Contains(progress.String(), "connected 3/3") {
				t.Errorf("progress lines:\n%s", progress.String())
			}

			var out bytes.Buffer
			if err := loadgen.WriteCallTable(&out, rep); err != nil {
				t.Fatal(err)
			}
			t.Logf("table:\n%s", out.String())
			out.Reset()
			if err := loadgen.WriteCallCSV(&out, rep.PerCall); err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(out.String(), "\n"); n != 4 {
				t.Errorf("csv has %d lines, want a header and 3 calls:\n%s", n, out.String())
			}
		})
	}
}

// A call that cannot be set up (its devices' tokens are signed with a secret
// the SFU does not know) counts as failed and trips thresholds.
func TestCallThresholdsTrip(t *testing.T) {
	srv := startSFU(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := loadgen.RunCall(ctx, loadgen.CallConfig{
		URL: srv.URL, Pairs: 1, Mode: loadgen.ModeVoice, Duration: time.Second,
		APIKey: "wrongkey", APISecret: "a-secret-the-server-does-not-know-0123456789",
	})
	if !errors.Is(err, loadgen.ErrNoCalls) || rep == nil {
		t.Fatalf("RunCall: report %v, err %v; want a report and ErrNoCalls", rep, err)
	}
	if rep.CallsConnected != 0 || rep.CallsFailed != 1 || len(rep.Failures) != 1 {
		t.Fatalf("connected %d, failed %d, failures %+v", rep.CallsConnected, rep.CallsFailed, rep.Failures)
	}
	th := loadgen.CallThresholds{MaxLoss: 0.01, MaxFailed: 0, MaxSetupP99: time.Second}
	bad := th.Check(rep)
	want := []string{"loss not measured", "calls failed 1 > max 0", "call setup p99 not measured"}
	if len(bad) != len(want) {
		t.Fatalf("broken %q, want %d messages", bad, len(want))
	}
	for i, w := range want {
		if !strings.Contains(bad[i], w) {
			t.Errorf("message %d %q, want %q", i, bad[i], w)
		}
	}
	// Measured figures over their limits trip too.
	over := &loadgen.CallReport{PacketsExpected: 1000, PacketsLost: 20, LossRatio: 0.02, CallsFailed: 2,
		CallSetupMs: &loadgen.Percentiles{P50: 400, P95: 900, P99: 1500, N: 20}}
	if bad := th.Check(over); len(bad) != 3 {
		t.Errorf("over every limit, broken %q", bad)
	}
}

func TestCallRunInterrupted(t *testing.T) {
	srv := startSFU(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	var rep *loadgen.CallReport
	var err error
	go func() {
		defer close(done)
		rep, err = loadgen.RunCall(ctx, loadgen.CallConfig{
			URL: srv.URL, Pairs: 2, Mode: loadgen.ModeVideo, Duration: time.Hour, Bitrate: 300_000,
		})
	}()
	// Interrupt once the window is running (Ctrl-C in the CLI).
	time.Sleep(2500 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(45 * time.Second):
		t.Fatal("RunCall did not return after cancellation")
	}
	if err != nil {
		t.Fatalf("RunCall: %v", err)
	}
	if !rep.Interrupted || rep.DurationS <= 0 || rep.DurationS > 60 {
		t.Fatalf("interrupted %v, window %.1f s", rep.Interrupted, rep.DurationS)
	}
	if rep.CallsConnected != 2 || rep.PacketsReceived == 0 {
		t.Fatalf("connected %d, received %d", rep.CallsConnected, rep.PacketsReceived)
	}
}
