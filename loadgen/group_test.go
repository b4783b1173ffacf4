package loadgen_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/loadgen"
)

func TestGroupRun(t *testing.T) {
	srv := startSFU(t)
	var progress bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := loadgen.RunGroup(ctx, loadgen.GroupConfig{
		URL: srv.URL, Speakers: 5, Listeners: 3,
		Duration: 4 * time.Second, Warmup: time.Second, TurnInterval: time.Second,
		Progress: &progress, ProgressInterval: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("RunGroup: %v", err)
	}
	js, _ := json.MarshalIndent(rep, "", "  ")
	t.Logf("report:\n%s", js)

	if rep.SpeakersConnected != 5 || rep.ListenersConnected != 3 || rep.MembersFailed != 0 {
		t.Errorf("connected %d speakers and %d listeners, %d failed: %+v", rep.SpeakersConnected, rep.ListenersConnected, rep.MembersFailed, rep.Failures)
	}
	if rep.Interrupted || rep.Scenario != "group" {
		t.Errorf("interrupted %v, scenario %q", rep.Interrupted, rep.Scenario)
	}
	if rep.PacketsLost != 0 || rep.LossRatio != 0 || rep.PacketsReceived == 0 || rep.PacketsSent == 0 {
		t.Errorf("lost %d (ratio %g), received %d, sent %d", rep.PacketsLost, rep.LossRatio, rep.PacketsReceived, rep.PacketsSent)
	}
	// Members hear three speakers. A sample may count more for a moment
	// after a switch: whoever stopped sent its last packet within the
	// stream window (an active speaker may see both an active and the next
	// speaker change at once); the packet rate says three.
	for who, c := range map[string]*loadgen.StreamCounts{"listener": rep.StreamsPerListener, "speaker": rep.StreamsPerSpeaker} {
		if c == nil || c.P50 != 3 || c.Max > 5 || c.N < 20 || c.MeanByRate < 2.6 || c.MeanByRate > 3.2 {
			t.Errorf("streams per %s %+v, want 3 (a median of 3, never more than 5 counted across a switch, 3 by rate)", who, c)
		}
	}
	if rep.OwnVoice != 0 {
		t.Errorf("%d members heard themselves", rep.OwnVoice)
	}
	// A speaker talks over the others every second: the active set changes.
	if rep.ActiveSpeakerChangesPerS <= 0 {
		t.Errorf("no active speaker changes")
	}
	if rep.LatencyMs == nil || rep.LatencyMs.P50 <= 0 || rep.JoinMs == nil || rep.JoinMs.N != 8 || rep.JitterAudioMs == nil {
		t.Errorf("latency %+v, join %+v, jitter %+v", rep.LatencyMs, rep.JoinMs, rep.JitterAudioMs)
	}
	if bad := loadgen.NoGroupThresholds().Check(rep); len(bad) > 0 {
		t.Errorf("no thresholds, yet broken: %q", bad)
	}
	if bad := (loadgen.GroupThresholds{MaxLoss: 0, MaxStreams: 5, MaxFailed: 0}).Check(rep); len(bad) > 0 {
		t.Errorf("thresholds the run meets broken: %q", bad)
	}
	if bad := (loadgen.GroupThresholds{MaxLoss: -1, MaxStreams: 2, MaxFailed: -1}).Check(rep); len(bad) != 2 {
		t.Errorf("max 2 streams: broken %q, want one message per kind of member", bad)
	}
	if !strings.Contains(progress.String(), "connected 8/8") {
		t.Errorf("progress lines:\n%s", progress.String())
	}
	var out bytes.Buffer
	if err := loadgen.WriteGroupTable(&out, rep); err != nil {
		t.Fatal(err)
	}
	t.Logf("table:\n%s", out.String())
}

// A group run whose members cannot join (tokens signed with a secret the
// SFU does not know) measures nothing and says so.
func TestGroupRunNobodyJoins(t *testing.T) {
	srv := startSFU(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := loadgen.RunGroup(ctx, loadgen.GroupConfig{
		URL: srv.URL, Speakers: 1, Listeners: 1, Duration: time.Second,
		APIKey: "wrongkey", APISecret: "a-secret-the-server-does-not-know-0123456789",
	})
	if err == nil || rep == nil || rep.MembersFailed != 2 || len(rep.Failures) == 0 {
		t.Fatalf("report %+v, err %v", rep, err)
	}
	th := loadgen.GroupThresholds{MaxLoss: 0.01, MaxStreams: 3, MaxFailed: 0}
	if bad := th.Check(rep); len(bad) != 3 {
		t.Fatalf("broken %q, want loss and streams not measured and members failed", bad)
	}
}
