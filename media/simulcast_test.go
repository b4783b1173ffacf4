package media

import (
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/talkrelay/talkrelay/media/codec"
)

// simPacket builds a one-packet VP8 frame of a simulcast layer with a 15-bit
// picture ID and a TL0PICIDX.
func simPacket(ssrc uint32, seq uint16, ts uint32, pic uint16, tl0 uint8, key bool) []byte {
	payload := []byte{0x90, 0xc0, 0x80 | byte(pic>>8), byte(pic), tl0, 0x00, 0, 0, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xb4, 0x00, 0xaa}
	if !key {
		payload[5] = 0x01 // P bit: delta frame
	}
	p := rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, PayloadType: 96, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc}, Payload: payload}
	b, _ := p.Marshal()
	return b
}

// A viewer switched to another layer moves at that layer's keyframe and sees
// one stream: sequence numbers without a gap, timestamps moving forward by the
// time between the frames, picture IDs and TL0PICIDX continuing by one.
func TestLayerSwitchAtKeyframeKeepsStreamContinuous(t *testing.T) {
	f, s := testFeedLayers(vp8Codec(), 2)
	for _, l := range f.layers {
		l.src = &source{layer: l} // published
	}
	w := &captureWriter{}
	d := bindDown(t, f, s, w, 777)
	if cur, target := d.Layer(); cur != 1 || target != 1 {
		t.Fatalf("starts on layer %d (target %d), want the highest, 1", cur, target)
	}
	// Each layer's frames: own sequence, timestamp and picture numbering.
	type stream struct {
		seq uint16
		ts  uint32
		pic uint16
		tl0 uint8
	}
	lay := []stream{{seq: 100, ts: 1000, pic: 5000, tl0: 10}, {seq: 40000, ts: 900000, pic: 30000, tl0: 200}}
	frame := func(i int, key bool) {
		st := &lay[i]
		ingestLayer(f, s, i, simPacket(uint32(10+i), st.seq, st.ts, st.pic, st.tl0, key))
		st.seq++
		st.ts += 3000
		st.pic = (st.pic + 1) & 0x7fff
		st.tl0++
	}
	frame(1, true)
	frame(0, true) // not this viewer's layer
	for i := 0; i < 3; i++ {
		frame(1, false)
		frame(0, false)
	}
	if len(w.pkts) != 4 {
		t.Fatalf("forwarded %d packets of layer 1, want 4", len(w.pkts))
	}

	d.sel.mu.Lock()
	d.sel.target = 0 // congestion: the selector wants the low layer
	d.sel.mu.Unlock()
	frame(1, false) // still layer 1 until layer 0 has a keyframe
	frame(0, false) // a delta frame of layer 0 cannot start it
	frame(0, true)  // the switch
	frame(1, false) // no longer this viewer's
	frame(0, false)
	if len(w.pkts) != 7 {
		t.Fatalf("forwarded %d packets, want 7", len(w.pkts))
	}
	if cur, _ := d.Layer(); cur != 0 {
		t.Fatalf("on layer %d after the switch, want 0", cur)
	}
	for i := 1; i < len(w.pkts); i++ {
		a, b := w.pkts[i-1], w.pkts[i]
		if b.seq != a.seq+1 {
			t.Errorf("packet %d: sequence %d after %d", i, b.seq, a.seq)
		}
		if int32(b.ts-a.ts) <= 0 {
			t.Errorf("packet %d: timestamp %d does not move forward from %d", i, b.ts, a.ts)
		}
		if b.ssrc != 777 {
			t.Errorf("packet %d: ssrc %d", i, b.ssrc)
		}
		pa, _ := codec.ParseVP8([]byte(a.payload))
		pb, _ := codec.ParseVP8([]byte(b.payload))
		if pb.PictureID != (pa.PictureID+1)&0x7fff || pb.TL0PicIdx != pa.TL0PicIdx+1 {
			t.Errorf("packet %d: picture %d tl0 %d after %d/%d", i, pb.PictureID, pb.TL0PicIdx, pa.PictureID, pa.TL0PicIdx)
		}
	}
	// The switch packet is layer 0's keyframe.
	if p := []byte(w.pkts[5].payload); p[5]&0x01 != 0 {
		t.Error("the first packet after the switch is not a keyframe")
	}
}

// Sender reports align the layers' timestamps: the switch advances the
// viewer's timestamp by exactly the publisher-clock time between the frames.
func TestLayerSwitchAlignsTimestampsBySenderReports(t *testing.T) {
	f, s := testFeedLayers(vp8Codec(), 2)
	for _, l := range f.layers {
		l.src = &source{layer: l}
	}
	w := &captureWriter{}
	d := bindDown(t, f, s, w, 1)
	base := time.Now().UnixNano()
	// Both layers captured the same instant at RTP 1000 (layer 1) and 500000 (layer 0).
	f.layers[1].clock.Store(&clockMapping{rtp: 1000, ntp: base, epoch: 1})
	f.layers[0].clock.Store(&clockMapping{rtp: 500000, ntp: base, epoch: 1})
	ingestLayer(f, s, 1, simPacket(11, 1, 1000, 1, 1, true))
	d.sel.mu.Lock()
	d.sel.target = 0
	d.sel.mu.Unlock()
	// Layer 0's keyframe is 100 ms (9000 ticks) later on the publisher's clock.
	ingestLayer(f, s, 0, simPacket(10, 1, 509000, 1, 1, true))
	if len(w.pkts) != 2 {
		t.Fatalf("forwarded %d packets, want 2", len(w.pkts))
	}
	if got := w.pkts[1].ts - w.pkts[0].ts; got != 9000 {
		t.Errorf("timestamp advanced %d ticks across the switch, want 9000", got)
	}
}

// The selector drops a viewer whose reports show heavy loss to the layer that
// fits what got through, does not try the failed layer again before its
// backoff, and climbs back once it may.
func TestSelectorDowngradesFastAndProbesAfterBackoff(t *testing.T) {
	f, s := testFeedLayers(vp8Codec(), 3)
	for _, l := range f.layers {
		l.src = &source{layer: l}
	}
	d := bindDown(t, f, s, &captureWriter{}, 1)
	// Layer rates: 150k, 500k, 1.5M.
	now := time.Now()
	for i, r := range []uint64{150_000, 500_000, 1_500_000} {
		l := f.layers[i]
		l.rateAt, l.rateBps = now.UnixNano(), r
		l.bytesIn.Store(1) // later samples see no new bytes and keep the rate
		l.rateBytes = 1
	}
	sel := d.sel
	if sel.targetLayer() != 2 {
		t.Fatalf("starts at %d", sel.targetLayer())
	}
	d.curLayer.Store(2)
	// 73 % loss on the 1.5M layer: about 400k got through.
	sel.onReceiverReport(187, now)
	if got := sel.targetLayer(); got != 0 {
		t.Fatalf("after heavy loss the target is %d, want 0 (400k fits only the lowest)", got)
	}
	d.curLayer.Store(0)
	// Clean reports: the estimate grows, but the failed layers wait.
	for i := 1; i <= 3; i++ {
		sel.onReceiverReport(0, now.Add(time.Duration(i)*time.Second))
		if got := sel.targetLayer(); got != 0 {
			t.Fatalf("%d s after the failure the target is %d, want 0 (backoff)", i, got)
		}
	}
	sel.onReceiverReport(0, now.Add(initialBackoff+time.Second))
	if got := sel.targetLayer(); got != 1 {
		t.Fatalf("after the backoff the target is %d, want 1", got)
	}
	if w := f.WatchedLayers(); len(w) != 1 || w[0] != "l1" {
		t.Errorf("watched layers %v, want [l1]", w)
	}
}
