package synth

import (
	"testing"
	"time"
)

func TestVideoStampRoundTrip(t *testing.T) {
	v := NewVideo(VideoConfig{FPS: 30, KeyframeInterval: time.Second, FirstSeq: 65500, MaxPayload: 300})
	for f := range 70 {
		pkts := v.NextFrame()
		for i, p := range pkts {
			s, ok := ReadVideoStamp(p.Payload)
			want := Stamp{Frame: uint32(f), Index: uint16(i), Keyframe: f%30 == 0, OrigSeq: p.SequenceNumber}
			if !ok || s != want {
				t.Fatalf("frame %d pkt %d: got %+v ok=%v, want %+v", f, i, s, ok, want)
			}
			if _, ok := ReadAudioStamp(p.Payload); ok {
				t.Fatalf("frame %d pkt %d: video payload accepted as audio", f, i)
			}
		}
	}
}

func TestReadVideoStampRewrittenDescriptor(t *testing.T) {
	// An SFU may rewrite the descriptor; optional fields must be skipped.
	v := NewVideo(VideoConfig{})
	pkts := v.NextFrame()
	for i, p := range pkts[:2] {
		want, ok := ReadVideoStamp(p.Payload)
		if !ok {
			t.Fatalf("pkt %d unreadable", i)
		}
		body := p.Payload[vp8DescriptorLen:]
		variants := map[string][]byte{
			"no extension":     {p.Payload[0] &^ 0x80},
			"7-bit picture id": {p.Payload[0], 0x80, 0x12},
			"L T K":            {p.Payload[0], 0xf0, 0x80 | 0x12, 0x34, 0x05, 0x20},
		}
		for name, desc := range variants {
			got, ok := ReadVideoStamp(append(desc, body...))
			if !ok || got != want {
				t.Errorf("pkt %d %s: got %+v ok=%v, want %+v", i, name, got, ok, want)
			}
		}
	}
}

func TestReadStampRejects(t *testing.T) {
	v := NewVideo(VideoConfig{})
	key := append([]byte(nil), v.NextFrame()[0].Payload...)
	mid := append([]byte(nil), v.NextFrame()[1].Payload...)
	a := append([]byte(nil), NewAudio(AudioConfig{}).NextPacket().Payload...)

	mutate := func(b []byte, f func([]byte)) []byte {
		c := append([]byte(nil), b...)
		f(c)
		return c
	}
	tests := []struct {
		name    string
		payload []byte
		audio   bool
	}{
		{"nil", nil, false},
		{"empty", []byte{}, false},
		{"descriptor only", key[:4], false},
		{"truncated stamp", key[:4+10+stampLen-1], false},
		{"bad magic", mutate(mid, func(b []byte) { b[4] ^= 1 }), false},
		{"bad start code", mutate(key, func(b []byte) { b[7] = 0 }), false},
		{"P bit disagrees with stamp", mutate(key, func(b []byte) { b[4] |= 1 }), false},
		{"S bit on non-first packet", mutate(mid, func(b []byte) { b[0] |= 0x10 }), false},
		{"S bit cleared on first packet", mutate(key, func(b []byte) { b[0] &^= 0x10 }), false},
		{"keyframe flag not 0/1", mutate(mid, func(b []byte) { b[4+10] = 7 }), false},
		{"audio as video", a, false},
		{"audio nil", nil, true},
		{"audio truncated", a[:stampLen], true},
		{"audio bad TOC", mutate(a, func(b []byte) { b[0] = 0 }), true},
		{"audio bad magic", mutate(a, func(b []byte) { b[1] = 0 }), true},
		{"video as audio", mid, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			read := ReadVideoStamp
			if tc.audio {
				read = ReadAudioStamp
			}
			if s, ok := read(tc.payload); ok || s != (Stamp{}) {
				t.Fatalf("accepted: %+v", s)
			}
		})
	}
}

func TestReadVideoStampGarbage(t *testing.T) {
	// Every prefix of every byte pattern must be handled without panicking.
	v := NewVideo(VideoConfig{})
	seeds := [][]byte{v.NextFrame()[0].Payload, v.NextFrame()[0].Payload, {0xff, 0xff, 0xff, 0xff, 0xff}, {0x90, 0xf0, 0x80}}
	for _, seed := range seeds {
		for n := 0; n <= len(seed) && n < 64; n++ {
			ReadVideoStamp(seed[:n])
			ReadAudioStamp(seed[:n])
		}
	}
	x := uint32(1)
	buf := make([]byte, 40)
	for range 100000 {
		for i := range buf {
			x = x*1664525 + 1013904223
			buf[i] = byte(x >> 24)
		}
		ReadVideoStamp(buf[:x%41])
		ReadAudioStamp(buf[:x%41])
	}
}

func FuzzReadVideoStamp(f *testing.F) {
	v := NewVideo(VideoConfig{MaxPayload: 100})
	for range 2 {
		for _, p := range v.NextFrame() {
			f.Add(append([]byte(nil), p.Payload...))
		}
	}
	f.Add([]byte{})
	f.Add([]byte{0x90, 0xf0, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, ok := ReadVideoStamp(b)
		if !ok && s != (Stamp{}) {
			t.Fatalf("non-zero stamp %+v with ok=false", s)
		}
		ReadAudioStamp(b)
	})
}
