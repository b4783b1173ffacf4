package media

import (
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

func vp8Codec() webrtc.RTPCodecParameters { return Codecs()[1] }

// checkRun fails unless pkts have consecutive sequence numbers and one SSRC.
func checkRun(t *testing.T, pkts []captured) {
	t.Helper()
	for i := 1; i < len(pkts); i++ {
		if pkts[i].seq != pkts[i-1].seq+1 || pkts[i].ssrc != pkts[0].ssrc {
			t.Fatalf("packet %d: seq %d ssrc %d after seq %d ssrc %d", i, pkts[i].seq, pkts[i].ssrc, pkts[i-1].seq, pkts[i-1].ssrc)
		}
	}
}

func TestDownTrackRewritesToViewerSSRCAndPayloadType(t *testing.T) {
	f, s := testFeed(vp8Codec())
	w := &captureWriter{}
	bindDown(t, f, s, w, 777)
	for i := 0; i < 5; i++ {
		ingest(f, s, vp8Packet(uint16(65533+i), uint32(1000+i*3000), i == 0, 50))
	}
	if len(w.pkts) != 5 {
		t.Fatalf("wrote %d packets, want 5", len(w.pkts))
	}
	for _, p := range w.pkts {
		if p.ssrc != 777 || p.pt != PayloadTypeVP8 {
			t.Fatalf("packet %+v: want ssrc 777 and pt %d", p, PayloadTypeVP8)
		}
	}
	checkRun(t, w.pkts)
	if d := w.pkts[4].ts - w.pkts[0].ts; d != 12000 {
		t.Fatalf("timestamp spacing %d, want 12000 (kept from the publisher)", d)
	}
}

func TestDownTrackWaitsForKeyframe(t *testing.T) {
	f, s := testFeed(vp8Codec())
	w := &captureWriter{}
	bindDown(t, f, s, w, 1)
	ingest(f, s, vp8Packet(10, 0, false, 50)) // delta: undecodable alone
	ingest(f, s, vp8Packet(11, 0, false, 50))
	if len(w.pkts) != 0 {
		t.Fatalf("forwarded %d delta packets before any keyframe", len(w.pkts))
	}
	ingest(f, s, vp8Packet(12, 3000, true, 50))
	ingest(f, s, vp8Packet(13, 3000, false, 50))
	if len(w.pkts) != 2 {
		t.Fatalf("wrote %d packets after the keyframe, want 2", len(w.pkts))
	}
	checkRun(t, w.pkts)
}

func TestLateJoinerReplaysFromLastKeyframe(t *testing.T) {
	f, s := testFeed(vp8Codec())
	for i := 0; i < 20; i++ {
		ingest(f, s, vp8Packet(uint16(100+i), uint32(i*3000), i == 0 || i == 10, 50))
	}
	w := &captureWriter{}
	bindDown(t, f, s, w, 9) // joins after packet 119: replays 110..119
	if len(w.pkts) != 10 {
		t.Fatalf("replayed %d packets, want 10 (from the keyframe at 110)", len(w.pkts))
	}
	if w.pkts[0].ts != 10*3000+f.shards[0].tracks[0].tsOffset {
		t.Fatalf("replay starts at ts %d, not at the keyframe", w.pkts[0].ts)
	}
	ingest(f, s, vp8Packet(120, 20*3000, false, 50))
	if len(w.pkts) != 11 {
		t.Fatalf("live packet after replay not forwarded once: %d packets", len(w.pkts))
	}
	checkRun(t, w.pkts)
}

// Across an unmute (input gap) and a new publisher stream (new sequence space),
// the viewer's sequence numbers run on without a gap and timestamps advance.
func TestDownTrackContinuityAcrossMuteAndNewStream(t *testing.T) {
	f, s := testFeed(vp8Codec())
	w := &captureWriter{}
	bindDown(t, f, s, w, 5)
	seq, ts := uint16(1000), uint32(0)
	send := func(n int, firstKey bool) {
		for i := 0; i < n; i++ {
			ingest(f, s, vp8Packet(seq, ts, firstKey && i == 0, 50))
			seq++
			ts += 3000
		}
	}
	send(10, true)
	f.SetMuted(true)
	send(50, true) // not forwarded
	f.SetMuted(false)
	send(3, false) // waits for a keyframe
	send(10, true)
	if len(w.pkts) != 20 {
		t.Fatalf("forwarded %d packets around the mute, want 20", len(w.pkts))
	}
	// A new publisher stream: other SSRC, sequence and timestamp spaces.
	f.layers[0].cache.Reset()
	f.layers[0].epoch.Add(1)
	seq, ts = 50000, 123456789
	send(10, true)
	if len(w.pkts) != 30 {
		t.Fatalf("forwarded %d packets after the new stream, want 30", len(w.pkts))
	}
	checkRun(t, w.pkts)
	for i := 1; i < len(w.pkts); i++ {
		if int32(w.pkts[i].ts-w.pkts[i-1].ts) < 0 {
			t.Fatalf("timestamp goes back at packet %d", i)
		}
	}
	if w.pkts[20].ts == w.pkts[19].ts {
		t.Fatal("timestamp did not advance across the new stream")
	}
}

func TestNACKIsAnsweredFromCacheWithSameRewrite(t *testing.T) {
	f, s := testFeed(vp8Codec())
	w := &captureWriter{}
	d := bindDown(t, f, s, w, 5)
	for i := 0; i < 10; i++ {
		ingest(f, s, vp8Packet(uint16(65530+i), uint32(i*3000), i == 0, 40+i))
	}
	want := w.pkts[3]
	s.handle(ctrlMsg{op: opNACK, track: d, seqs: []uint16{want.seq, want.seq + 100}})
	if len(w.pkts) != 11 {
		t.Fatalf("NACK produced %d packets, want 1 (the unknown seq is ignored)", len(w.pkts)-10)
	}
	if got := w.pkts[10]; got != want {
		t.Fatalf("retransmission %+v differs from original %+v", got, want)
	}
}

// The forwarding path allocates nothing, through real SRTP and UDP sends.
func TestForwardDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	f, s := testFeed(vp8Codec())
	for i := 0; i < 8; i++ {
		bindDown(t, f, s, srtpWriter(t), uint32(100+i))
	}
	seq := uint16(0)
	pkt := vp8Packet(seq, 0, true, 1100)
	ingest(f, s, pkt)
	allocs := testing.AllocsPerRun(200, func() {
		seq++
		pkt[2], pkt[3] = byte(seq>>8), byte(seq)
		ingest(f, s, pkt)
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per forwarded packet, want 0", allocs)
	}
	if n := f.stats.PacketsOut.Load(); n < 8*200 {
		t.Fatalf("only %d packets sent", n)
	}
}

// Many viewers' PLIs become at most one keyframe request per KeyframeInterval.
func TestKeyframeRequestsAreCoalesced(t *testing.T) {
	f, _ := testFeed(vp8Codec())
	var sent int
	f.layers[0].src = &source{up: Upstream{RequestKeyframe: func() { sent++ }}}
	for i := 0; i < 100; i++ {
		f.RequestKeyframe()
	}
	if sent != 1 {
		t.Fatalf("%d keyframe requests from 100 PLIs, want 1", sent)
	}
	f.layers[0].lastKeyframeRequest.Add(-int64(KeyframeInterval)) // as if the interval passed
	f.RequestKeyframe()
	f.RequestKeyframe()
	if sent != 2 {
		t.Fatalf("%d keyframe requests after the interval, want 2", sent)
	}
	audio, _ := testFeed(Codecs()[0])
	audio.layers[0].src = &source{up: Upstream{RequestKeyframe: func() { t.Fatal("keyframe requested for audio") }}}
	audio.RequestKeyframe()
}

// Receivers' estimates reach the publisher at most once per EstimateInterval,
// and only when the upstream takes them (calls, not lives).
func TestEstimatesAreRelayedAndCoalesced(t *testing.T) {
	f, _ := testFeed(vp8Codec())
	f.lastEstimate.Store(-int64(EstimateInterval)) // as NewFeed does
	f.layers[0].src = &source{up: Upstream{}}
	f.relayEstimate(1e6) // a live's feed: nowhere to go, nothing breaks
	var got []float32
	f.layers[0].src = &source{up: Upstream{Estimate: func(bps float32) { got = append(got, bps) }}}
	for i := 0; i < 50; i++ {
		f.relayEstimate(float32(300_000 + i))
	}
	if len(got) != 1 || got[0] != 300_000 {
		t.Fatalf("relayed %v from 50 estimates at once, want [300000]", got)
	}
	f.lastEstimate.Store(int64(time.Since(f.start)) - int64(EstimateInterval))
	f.relayEstimate(250_000)
	if len(got) != 2 || got[1] != 250_000 {
		t.Fatalf("after an interval relayed %v, want a second estimate 250000", got)
	}
}

// A viewer gets at most maxNACKsPerSecond retransmissions a second.
func TestNACKBudget(t *testing.T) {
	var b nackBudget
	now := time.Now()
	if !b.take(maxNACKsPerSecond-1, now) || !b.take(1, now) {
		t.Fatal("the budget refused what it allows")
	}
	if b.take(1, now.Add(500*time.Millisecond)) {
		t.Fatal("the budget allowed more than its second's worth")
	}
	if !b.take(17, now.Add(time.Second)) {
		t.Fatal("the budget did not refill after a second")
	}
}
