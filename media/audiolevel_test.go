package media

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/media/mediatest"
)

func opusCodec() webrtc.RTPCodecParameters { return Codecs()[0] }

// levelExtID is the audio level extension id the tests' publisher uses.
const levelExtID = 3

// opusPacket builds a 20 ms Opus packet carrying audio level (-dBov).
func opusPacket(seq uint16, level uint8) []byte {
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, Timestamp: uint32(seq) * 960, SSRC: 4321}, Payload: []byte{0xf8, byte(seq), 2, 3}}
	if err := p.Header.SetExtension(levelExtID, []byte{0x80 | level}); err != nil {
		panic(err)
	}
	b, _ := p.Marshal()
	return b
}

// ingestAudio does what the reader does with one packet of a source whose
// levels come in extension levelExtID, honouring mute and the gate.
func ingestAudio(f *Feed, s *shard, pkt []byte) {
	l := f.layers[0]
	in := ingress{layer: l, epoch: l.epoch.Load(), levelID: levelExtID}
	if ref, ok := f.store(&in, pkt); ok && !f.muted.Load() && !ref.gateClosed {
		s.forward(ref)
	}
}

func TestGateFlaggedForwardsOnlyToFlaggedTracks(t *testing.T) {
	f, s := testFeed(opusCodec())
	var onFlag, offFlag atomic.Bool
	onFlag.Store(true)
	on, off, plain := &captureWriter{}, &captureWriter{}, &captureWriter{}
	for i, x := range []struct {
		w    *captureWriter
		flag *atomic.Bool
	}{{on, &onFlag}, {off, &offFlag}, {plain, nil}} {
		d := NewDownTrack(f, nil)
		d.SetGateFlag(x.flag)
		bindTrack(t, d, x.w, uint32(100+i))
		s.handle(ctrlMsg{op: opAdd, track: d})
	}
	seq := uint16(500)
	send := func(n int) {
		for range n {
			ingestAudio(f, s, opusPacket(seq, 30))
			seq++
		}
	}
	send(3) // open: everyone
	f.SetGate(GateFlagged)
	send(5) // only the flagged track
	offFlag.Store(true)
	send(4) // now both flagged tracks; the track without a flag never
	f.SetGate(GateOpen)
	send(2)

	// The replayed packet at activation comes first: each track's first
	// packet is the cache's newest (none yet here), so counts are exact.
	if len(on.pkts) != 14 || len(off.pkts) != 3+4+2 || len(plain.pkts) != 3+2 {
		t.Fatalf("flagged on %d, off-then-on %d, no flag %d packets; want 14, 9, 5", len(on.pkts), len(off.pkts), len(plain.pkts))
	}
	for _, w := range []*captureWriter{on, off, plain} {
		checkRun(t, w.pkts) // gated stretches leave no sequence gap
	}
	if gap := off.pkts[3].ts - off.pkts[2].ts; gap != 6*960 {
		t.Fatalf("timestamp advanced %d across the gated stretch, want %d (its real duration)", gap, 6*960)
	}
}

func TestGateClosedStopsReaderAndResumesWithoutGap(t *testing.T) {
	f, s := testFeed(opusCodec())
	w := &captureWriter{}
	bindDown(t, f, s, w, 9)
	for seq := uint16(65530); seq != 2; seq++ { // across the wrap
		if seq == 65534 {
			f.SetGate(GateClosed)
		}
		if seq == 0 {
			f.SetGate(GateOpen)
		}
		ingestAudio(f, s, opusPacket(seq, 20))
	}
	// 65530..65533 and 0..1 go out: 6 packets, consecutive.
	if len(w.pkts) != 6 {
		t.Fatalf("wrote %d packets, want 6", len(w.pkts))
	}
	checkRun(t, w.pkts)
	if f.Stats().PacketsIn.Load() != 8 {
		t.Fatalf("stored %d packets, want every one of 8", f.Stats().PacketsIn.Load())
	}
}

func TestFeedMetersAudioLevels(t *testing.T) {
	f, s := testFeed(opusCodec())
	if got := f.Loudness(time.Now()); got != 0 {
		t.Fatalf("loudness %d before any packet", got)
	}
	for seq := range uint16(50) {
		ingestAudio(f, s, opusPacket(seq, 27)) // 100 dB above silence
	}
	got := f.Loudness(time.Now())
	if want := 100 * LoudnessScale; got < want-LoudnessScale/2 || got > want {
		t.Fatalf("loudness %d after a steady level, want about %d", got, want)
	}
}

func TestLevelMeterSmoothsAndDecays(t *testing.T) {
	var m LevelMeter
	const ms = int64(time.Millisecond)
	now := int64(1_000_000) * ms
	speak := func(level uint8, d time.Duration) {
		for end := now + int64(d); now < end; now += 20 * ms {
			m.Observe(level, now)
		}
	}
	speak(47, time.Second) // 80 dB above silence
	if got := m.Loudness(now); got < 80*LoudnessScale-LoudnessScale/2 || got > 80*LoudnessScale {
		t.Fatalf("steady loudness %d, want about %d", got, 80*LoudnessScale)
	}
	// A louder burst shows within a few packets: most of the way in 300 ms.
	speak(7, 300*time.Millisecond) // 120 dB
	if got := m.Loudness(now); got < 110*LoudnessScale {
		t.Fatalf("loudness %d after 300 ms at 120 dB, want above %d", got, 110*LoudnessScale)
	}
	// Jitter (packets late by up to levelGrace periods) changes nothing.
	last := now - 20*ms
	if got, want := m.Loudness(last+80*ms), m.Loudness(last); got != want {
		t.Fatalf("loudness %d 80 ms after the last packet, want %d as at it", got, want)
	}
	// Silence (no packets at all) decays it: half within 200 ms, nothing
	// left after a few seconds.
	if got := m.Loudness(last + 200*ms); got > 60*LoudnessScale {
		t.Fatalf("loudness %d 200 ms into silence, want it halved", got)
	}
	if got := m.Loudness(last + 5000*ms); got != 0 {
		t.Fatalf("loudness %d after 5 s of silence", got)
	}
	// A packet after the gap starts from the decayed value, not the old one.
	m.Observe(127, last+1000*ms)
	if got := m.Loudness(last + 1000*ms); got > LoudnessScale {
		t.Fatalf("loudness %d after 1 s of silence and a silent packet", got)
	}
}

func TestStoreWithLevelsAllocatesNothing(t *testing.T) {
	f, _ := testFeed(opusCodec())
	l := f.layers[0]
	in := ingress{layer: l, epoch: l.epoch.Load(), levelID: levelExtID}
	pkts := make([][]byte, 256)
	for i := range pkts {
		pkts[i] = opusPacket(uint16(i), 40)
	}
	i := 0
	if n := testing.AllocsPerRun(200, func() {
		if _, ok := f.store(&in, pkts[i]); !ok {
			t.Fatal("packet not stored")
		}
		i++
	}); n != 0 {
		t.Fatalf("%v allocations per stored packet", n)
	}
}

// bindTrack binds d to w, as a viewer's connection would.
func bindTrack(tb testing.TB, d *DownTrack, w webrtc.TrackLocalWriter, ssrc uint32) {
	tb.Helper()
	if _, err := d.Bind(mediatest.BindContext{Codecs: Codecs(), TrackSSRC: webrtc.SSRC(ssrc), Writer: w}); err != nil {
		tb.Fatal(err)
	}
}
