package loadgen

import (
	"errors"
	"testing"
	"time"
)

func TestSummariseCall(t *testing.T) {
	cpu := 0.5
	outs := []callOutcome{
		{ // up throughout; one packet lost at the callee
			caller: "lg-a-0", callee: "lg-b-0", callID: "CA_1", joinMs: []float64{2, 4}, setupMs: 30, connected: true,
			rx: [2]rxSnapshot{
				{expected: 500, received: 500, hasAudio: true, jitterAudioMs: 1, latencyMs: []float64{1, 3}},
				{expected: 500, received: 499, lost: 1, dups: 2, hasAudio: true, hasVideo: true, jitterAudioMs: 2, jitterVideoMs: 5},
			},
		},
		{ // set up, then dropped
			caller: "lg-a-1", callee: "lg-b-1", callID: "CA_2", joinMs: []float64{3, 3}, setupMs: 50,
			err: errors.New("call ended early (accepted, dropped)"),
			rx:  [2]rxSnapshot{{expected: 100, received: 100}, {expected: 100, received: 100}},
		},
		{caller: "lg-a-2", callee: "lg-b-2", joinMs: []float64{5}, setupMs: -1, err: errors.New("callee connects: refused")},
	}
	cfg := CallConfig{URL: "http://x", Pairs: 3, Mode: ModeVoice, Bitrate: 500_000, FPS: 30, Warmup: time.Second}
	r := summariseCall(cfg, outs, callWindow{length: 10 * time.Second, sent: 1200, cpu: cpuUse{sfu: &cpu, self: time.Second}})

	if r.CallsConnected != 1 || r.CallsFailed != 2 || len(r.Failures) != 2 {
		t.Errorf("connected %d, failed %d, failures %+v", r.CallsConnected, r.CallsFailed, r.Failures)
	}
	if r.Bitrate != 0 || r.FPS != 0 {
		t.Errorf("voice call reports video at %d bit/s, %d fps", r.Bitrate, r.FPS)
	}
	if r.PacketsExpected != 1200 || r.PacketsReceived != 1199 || r.PacketsLost != 1 || r.PacketsDuplicate != 2 {
		t.Errorf("packets expected %d, received %d, lost %d, dups %d", r.PacketsExpected, r.PacketsReceived, r.PacketsLost, r.PacketsDuplicate)
	}
	if r.LossRatio != 1.0/1200 || r.DeliveredPPS != 119.9 {
		t.Errorf("loss %g, pps %g", r.LossRatio, r.DeliveredPPS)
	}
	if p := r.CallSetupMs; p == nil || p.N != 2 || p.P50 != 30 || p.P99 != 50 {
		t.Errorf("setup %+v, want the two calls set up", p)
	}
	if p := r.JoinMs; p == nil || p.N != 5 {
		t.Errorf("join %+v, want a value per connected device", p)
	}
	if r.JitterAudioMs == nil || r.JitterAudioMs.N != 2 || r.JitterVideoMs == nil || r.JitterVideoMs.N != 1 {
		t.Errorf("jitter audio %+v video %+v", r.JitterAudioMs, r.JitterVideoMs)
	}
	if r.SFUCPUUsPerPacket == nil || *r.SFUCPUUsPerPacket != 0.5e6/1199 || r.LoadgenCPUSeconds != 1 {
		t.Errorf("SFU CPU %v µs/packet, loadgen %g s", r.SFUCPUUsPerPacket, r.LoadgenCPUSeconds)
	}
	if c := r.PerCall[0]; !c.Connected || c.Lost != 1 || c.LatencyP50Ms != 1 || c.Err != "" {
		t.Errorf("first call %+v", c)
	}
	if c := r.PerCall[2]; c.Connected || c.SetupMs >= 0 || c.Err != "callee connects: refused" {
		t.Errorf("last call %+v", c)
	}
}
