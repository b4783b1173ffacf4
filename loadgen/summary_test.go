package loadgen

import (
	"errors"
	"math"
	"testing"
	"time"
)

func TestSummarise(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	hostStart := t0.Add(2 * time.Second)
	cpu := 0.5
	outs := []viewerOutcome{
		{ // joined before the host: first keyframe counts from the host's start
			identity: "viewer-00000", full: true, joined: true, joinMs: 10, joinedAt: t0, connected: true,
			rx: rxSnapshot{expected: 1000, received: 990, lost: 10, dups: 2, hasAudio: true, hasVideo: true,
				jitterAudioMs: 1, jitterVideoMs: 3, firstKey: hostStart.Add(150 * time.Millisecond),
				firstVideo: hostStart.Add(100 * time.Millisecond), latencyMs: []float64{1, 2, 3}},
		},
		{ // light, joined after the host: counts from its own join
			identity: "viewer-00001", joined: true, joinMs: 30, joinedAt: hostStart.Add(time.Second), connected: true,
			rx: rxSnapshot{expected: 1000, received: 1000, hasVideo: true, jitterVideoMs: 2,
				firstVideo: hostStart.Add(1200 * time.Millisecond)},
		},
		{identity: "viewer-00002", err: errors.New("join: refused")},
		{identity: "viewer-00003", joined: true, joinMs: 20, joinedAt: t0},
	}
	cfg := Config{Room: "r", Viewers: 4, FullViewers: 1, Bitrate: 1_500_000, FPS: 30}
	r := summarise(cfg, outs, windowInfo{length: 10 * time.Second, hostStart: hostStart, sfuCPU: &cpu})

	if r.ViewersConnected != 2 || r.ViewersFailed != 2 || r.LightViewers != 3 {
		t.Fatalf("connected %d failed %d light %d", r.ViewersConnected, r.ViewersFailed, r.LightViewers)
	}
	if r.PacketsExpected != 2000 || r.PacketsReceived != 1990 || r.PacketsLost != 10 || r.PacketsDuplicate != 2 {
		t.Fatalf("packets %+v", r)
	}
	if r.LossRatio != 0.005 || r.DeliveredPPS != 199 {
		t.Fatalf("loss %g pps %g", r.LossRatio, r.DeliveredPPS)
	}
	if want := 0.5e6 / 1990; r.SFUCPUUsPerPacket == nil || math.Abs(*r.SFUCPUUsPerPacket-want) > 1e-9 {
		t.Fatalf("us per packet %v, want %g", r.SFUCPUUsPerPacket, want)
	}
	if r.FirstKeyframeMs == nil || r.FirstKeyframeMs.N != 2 || r.FirstKeyframeMs.P50 != 150 || r.FirstKeyframeMs.P99 != 200 {
		t.Fatalf("first keyframe %+v", r.FirstKeyframeMs)
	}
	if r.JoinMs.N != 3 || r.JoinMs.P99 != 30 || r.LatencyMs.N != 3 || r.LatencyMs.P50 != 2 {
		t.Fatalf("join %+v latency %+v", r.JoinMs, r.LatencyMs)
	}
	if r.JitterAudioMs.N != 1 || r.JitterVideoMs.N != 2 || r.JitterMs.N != 3 {
		t.Fatalf("jitter %+v %+v %+v", r.JitterAudioMs, r.JitterVideoMs, r.JitterMs)
	}
	if len(r.Failures) != 2 || r.ChatDeliveryRatio != nil || r.ChatLatencyMs != nil || r.ChatNote != chatNoteOff {
		t.Fatalf("failures %+v, chat %v %v", r.Failures, r.ChatDeliveryRatio, r.ChatLatencyMs)
	}
	if v := r.PerViewer[3]; v.FirstKeyframeMs != -1 || v.Err == "" {
		t.Fatalf("silent viewer row %+v", v)
	}
}
