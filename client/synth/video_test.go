package synth

import (
	"math"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// vp8Desc is the parsed RFC 7741 descriptor of a Video packet.
type vp8Desc struct {
	start     bool
	pid       byte
	pictureID uint16
}

func parseDesc(t *testing.T, p []byte) vp8Desc {
	t.Helper()
	if len(p) < vp8DescriptorLen {
		t.Fatalf("payload too short: %d", len(p))
	}
	if p[0]&0x80 == 0 || p[1] != 0x80 || p[2]&0x80 == 0 {
		t.Fatalf("want X=1, I=1 (only), M=1; got % x", p[:4])
	}
	return vp8Desc{
		start:     p[0]&0x10 != 0,
		pid:       p[0] & 0x07,
		pictureID: uint16(p[2]&0x7f)<<8 | uint16(p[3]),
	}
}

func TestVideoDescriptorAndHeader(t *testing.T) {
	v := NewVideo(VideoConfig{FPS: 30, KeyframeInterval: time.Second, FirstPictureID: 0x7ffe})
	for f := range 40 {
		pkts := v.NextFrame()
		wantKey := f%30 == 0
		wantPic := uint16((0x7ffe + f) & 0x7fff)
		for i, p := range pkts {
			d := parseDesc(t, p.Payload)
			if d.start != (i == 0) || d.pid != 0 {
				t.Fatalf("frame %d pkt %d: S=%v PID=%d", f, i, d.start, d.pid)
			}
			if d.pictureID != wantPic {
				t.Fatalf("frame %d pkt %d: picture id %d, want %d", f, i, d.pictureID, wantPic)
			}
			if p.Marker != (i == len(pkts)-1) {
				t.Fatalf("frame %d pkt %d of %d: marker %v", f, i, len(pkts), p.Marker)
			}
			if p.Version != 2 || p.PayloadType != 96 || p.SSRC == 0 || p.SSRC != v.SSRC() {
				t.Fatalf("frame %d pkt %d: bad header %+v", f, i, p.Header)
			}
			if len(p.Payload) > defaultMaxPayload {
				t.Fatalf("payload %d > MaxPayload", len(p.Payload))
			}
		}
		hdr := pkts[0].Payload[vp8DescriptorLen:]
		if gotKey := hdr[0]&1 == 0; gotKey != wantKey {
			t.Fatalf("frame %d: keyframe (P bit clear) = %v, want %v", f, gotKey, wantKey)
		}
		if hdr[0]&0x10 == 0 {
			t.Fatalf("frame %d: show_frame not set", f)
		}
		if wantKey {
			if hdr[3] != 0x9d || hdr[4] != 0x01 || hdr[5] != 0x2a {
				t.Fatalf("frame %d: bad start code % x", f, hdr[3:6])
			}
			w := int(hdr[6]) | int(hdr[7])<<8
			h := int(hdr[8]) | int(hdr[9])<<8
			if w != 1280 || h != 720 {
				t.Fatalf("frame %d: %dx%d, want 1280x720", f, w, h)
			}
		}
	}
}

func TestVideoSeqTimestampWrap(t *testing.T) {
	tests := []struct {
		name     string
		cfg      VideoConfig
		tsStep   uint32
		firstSeq uint16
	}{
		{"30fps near wrap", VideoConfig{FirstSeq: 65530, FirstTimestamp: math.MaxUint32 - 5000}, 3000, 65530},
		{"15fps small packets", VideoConfig{FPS: 15, MaxPayload: 200, FirstSeq: 65530}, 6000, 65530},
		{"60fps", VideoConfig{FPS: 60, FirstSeq: 1}, 1500, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := NewVideo(tc.cfg)
			wantSeq := tc.firstSeq
			wantTS := tc.cfg.FirstTimestamp
			wrapped := false
			for f := range 100 {
				for _, p := range v.NextFrame() {
					if p.SequenceNumber != wantSeq {
						t.Fatalf("frame %d: seq %d, want %d", f, p.SequenceNumber, wantSeq)
					}
					if p.Timestamp != wantTS {
						t.Fatalf("frame %d: ts %d, want %d", f, p.Timestamp, wantTS)
					}
					if wantSeq == 0 {
						wrapped = true
					}
					wantSeq++
				}
				wantTS += tc.tsStep
			}
			if tc.firstSeq > 65000 && !wrapped {
				t.Fatal("sequence numbers never wrapped")
			}
		})
	}
}

func keyframes(v *Video, frames int, hook func(f int)) []int {
	var keys []int
	for f := range frames {
		if hook != nil {
			hook(f)
		}
		s, ok := ReadVideoStamp(v.NextFrame()[0].Payload)
		if ok && s.Keyframe {
			keys = append(keys, f)
		}
	}
	return keys
}

func TestVideoKeyframeCadence(t *testing.T) {
	tests := []struct {
		name   string
		cfg    VideoConfig
		frames int
		want   []int
	}{
		{"30fps 1s", VideoConfig{FPS: 30, KeyframeInterval: time.Second}, 65, []int{0, 30, 60}},
		{"default 2s", VideoConfig{}, 125, []int{0, 60, 120}},
		{"10fps 500ms", VideoConfig{FPS: 10, KeyframeInterval: 500 * time.Millisecond}, 12, []int{0, 5, 10}},
		{"negative: first only", VideoConfig{KeyframeInterval: -1}, 200, []int{0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := keyframes(NewVideo(tc.cfg), tc.frames, nil)
			if !equalInts(got, tc.want) {
				t.Fatalf("keyframes at %v, want %v", got, tc.want)
			}
		})
	}
}

func TestVideoRequestKeyframe(t *testing.T) {
	tests := []struct {
		name string
		cfg  VideoConfig
		want []int
	}{
		// A request restarts the interval, as real encoders do.
		{"interval 1s", VideoConfig{FPS: 30, KeyframeInterval: time.Second}, []int{0, 10, 40, 50, 80}},
		{"negative interval", VideoConfig{FPS: 30, KeyframeInterval: -1}, []int{0, 10, 50}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := NewVideo(tc.cfg)
			got := keyframes(v, 90, func(f int) {
				if f == 10 || f == 50 {
					done := make(chan struct{})
					go func() { v.RequestKeyframe(); close(done) }()
					<-done
				}
			})
			if !equalInts(got, tc.want) {
				t.Fatalf("keyframes at %v, want %v", got, tc.want)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestVideoZeroAllocs(t *testing.T) {
	v := NewVideo(VideoConfig{KeyframeInterval: 100 * time.Millisecond})
	for range 10 {
		v.NextFrame()
	}
	allocs := testing.AllocsPerRun(200, func() {
		v.RequestKeyframe()
		v.NextFrame()
		v.NextFrame()
	})
	if allocs != 0 {
		t.Fatalf("NextFrame allocates %.1f times per run", allocs)
	}
}

func TestVideoFrameInterval(t *testing.T) {
	for _, tc := range []struct {
		fps  int
		want time.Duration
	}{{0, time.Second / 30}, {30, time.Second / 30}, {25, 40 * time.Millisecond}, {60, time.Second / 60}} {
		if got := NewVideo(VideoConfig{FPS: tc.fps}).FrameInterval(); got != tc.want {
			t.Errorf("FPS %d: FrameInterval %v, want %v", tc.fps, got, tc.want)
		}
	}
}

func TestVideoPacketsIndependent(t *testing.T) {
	// Appending to one payload must not clobber the next packet's bytes.
	v := NewVideo(VideoConfig{})
	pkts := v.NextFrame()
	if len(pkts) < 2 {
		t.Fatalf("want a multi-packet keyframe, got %d packets", len(pkts))
	}
	_ = append(pkts[0].Payload, 0xff, 0xff, 0xff, 0xff)
	if _, ok := ReadVideoStamp(pkts[1].Payload); !ok {
		t.Fatal("second packet corrupted by append to first")
	}
	// Marshal must work on the reused packets.
	if _, err := pkts[0].Marshal(); err != nil {
		t.Fatal(err)
	}
	var rp rtp.Packet
	raw, _ := pkts[1].Marshal()
	if err := rp.Unmarshal(raw); err != nil || rp.SequenceNumber != pkts[1].SequenceNumber {
		t.Fatalf("round trip: %v %+v", err, rp.Header)
	}
}

func BenchmarkNextFrame(b *testing.B) {
	v := NewVideo(VideoConfig{})
	b.ReportAllocs()
	var bytes int64
	for b.Loop() {
		for _, p := range v.NextFrame() {
			bytes += int64(len(p.Payload))
		}
	}
	b.SetBytes(bytes / int64(max(b.N, 1)))
}
