package loadgen_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/loadgen"
	"github.com/talkrelay/talkrelay/server/servertest"
)

// startSFU runs a real talkrelay node on loopback.
func startSFU(t *testing.T) *servertest.Node { return servertest.Start(t) }

func TestLiveRun(t *testing.T) {
	srv := startSFU(t)
	var progress bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := loadgen.Run(ctx, loadgen.Config{
		URL: srv.URL, Room: "bench", Viewers: 6, FullViewers: 2,
		Duration: 3 * time.Second, Warmup: time.Second,
		Bitrate: 600_000, JoinRate: 20, Chatters: 2, ChatRate: 1,
		Progress: &progress, ProgressInterval: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	js, _ := json.MarshalIndent(rep, "", "  ")
	t.Logf("report:\n%s", js)

	if rep.ViewersConnected != 6 || rep.ViewersFailed != 0 {
		t.Errorf("connected %d, failed %d, want 6 and 0: %+v", rep.ViewersConnected, rep.ViewersFailed, rep.Failures)
	}
	if rep.Interrupted {
		t.Error("report says interrupted")
	}
	if rep.PacketsLost != 0 || rep.LossRatio != 0 {
		t.Errorf("lost %d packets (ratio %g)", rep.PacketsLost, rep.LossRatio)
	}
	if rep.DeliveredPPS <= 0 || rep.PacketsReceived == 0 {
		t.Errorf("delivered %.0f pps, %d packets", rep.DeliveredPPS, rep.PacketsReceived)
	}
	if rep.LatencyMs == nil || rep.LatencyMs.P50 <= 0 || rep.LatencyMs.P99 <= 0 {
		t.Errorf("latency %+v, want nonzero percentiles", rep.LatencyMs)
	}
	if rep.FirstKeyframeMs == nil || rep.FirstKeyframeMs.N != 6 {
		t.Errorf("first keyframe %+v, want a value per viewer", rep.FirstKeyframeMs)
	}
	if rep.JoinMs == nil || rep.JoinMs.N != 6 {
		t.Errorf("join %+v, want a value per viewer", rep.JoinMs)
	}
	if rep.JitterAudioMs == nil || rep.JitterVideoMs == nil {
		t.Errorf("jitter not measured: audio %+v video %+v", rep.JitterAudioMs, rep.JitterVideoMs)
	}
	if rep.SFUCPUUsPerPacket == nil || *rep.SFUCPUUsPerPacket <= 0 {
		t.Errorf("SFU CPU per packet %v (%s)", rep.SFUCPUUsPerPacket, rep.SFUCPUNote)
	}
	// 2 chatters at 1/s for 3 s: about 6 messages, each to all 6 viewers.
	if rep.ChatDeliveryRatio == nil || *rep.ChatDeliveryRatio != 1 {
		t.Errorf("chat delivery ratio %v, want 1 (%d of %d delivered; %s)",
			rep.ChatDeliveryRatio, rep.ChatDelivered, rep.ChatExpected, rep.ChatNote)
	}
	if rep.ChatSent < 4 || rep.ChatAcked != rep.ChatSent || len(rep.ChatRejected) != 0 ||
		rep.ChatUnanswered != 0 || rep.ChatSendFailed != 0 || rep.ChatReceivers != 6 {
		t.Errorf("chat sent %d, acked %d, rejected %v, unanswered %d, send failed %d, receivers %d",
			rep.ChatSent, rep.ChatAcked, rep.ChatRejected, rep.ChatUnanswered, rep.ChatSendFailed, rep.ChatReceivers)
	}
	if p := rep.ChatLatencyMs; p == nil || p.N != rep.ChatAcked*6 || p.P50 <= 0 || p.P95 < p.P50 || p.P99 < p.P95 {
		t.Errorf("chat latency %+v, want a sample per delivery", p)
	}
	if p := rep.ChatAckMs; p == nil || p.N != rep.ChatAcked || p.P50 <= 0 {
		t.Errorf("chat ack %+v, want a sample per acked message", p)
	}
	if rep.ChatNote != "" || rep.ChatDuplicates != 0 || rep.ChatGapMessages != 0 {
		t.Errorf("chat note %q, duplicates %d, gaps %d", rep.ChatNote, rep.ChatDuplicates, rep.ChatGapMessages)
	}
	for _, v := range rep.PerViewer {
		if v.Received == 0 || v.FirstKeyframeMs < 0 {
			t.Errorf("%s (full %v): received %d, first keyframe %.1f ms", v.Identity, v.Full, v.Received, v.FirstKeyframeMs)
		}
		if v.Full && v.LatencyP50Ms <= 0 {
			t.Errorf("%s: no latency", v.Identity)
		}
		if v.ChatReceived != rep.ChatAcked {
			t.Errorf("%s: received %d chat messages, want %d", v.Identity, v.ChatReceived, rep.ChatAcked)
		}
	}
	// Light viewers count what full viewers decrypt: their shares of the
	// window should be alike (same SFU, same stream).
	if progress.Len() == 0 {
		t.Error("no progress lines")
	} else if !strings.Contains(progress.String(), "chat acked") {
		t.Errorf("no chat in the progress lines:\n%s", progress.String())
	}

	var out bytes.Buffer
	if err := loadgen.WriteTable(&out, rep); err != nil {
		t.Fatal(err)
	}
	t.Logf("table:\n%s", out.String())
}

func TestLiveRunInterrupted(t *testing.T) {
	srv := startSFU(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	var rep *loadgen.Report
	var err error
	go func() {
		defer close(done)
		rep, err = loadgen.Run(ctx, loadgen.Config{
			URL: srv.URL, Room: "interrupt", Viewers: 3, FullViewers: 1,
			Duration: time.Hour, Warmup: 200 * time.Millisecond, Bitrate: 300_000,
		})
	}()
	// Interrupt once the window is running (Ctrl-C in the CLI).
	time.Sleep(2500 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(45 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !rep.Interrupted || rep.DurationS <= 0 || rep.DurationS > 60 {
		t.Fatalf("interrupted %v, window %.1f s", rep.Interrupted, rep.DurationS)
	}
	if rep.ViewersConnected != 3 || rep.PacketsReceived == 0 {
		t.Fatalf("connected %d, received %d", rep.ViewersConnected, rep.PacketsReceived)
	}
}
