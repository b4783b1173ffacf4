package synth

import "testing"

func TestAudioPackets(t *testing.T) {
	tests := []struct {
		name     string
		cfg      AudioConfig
		wantPT   uint8
		wantSize int
	}{
		{"defaults near wrap", AudioConfig{FirstSeq: 65530, FirstTimestamp: 1<<32 - 2000}, 111, 120},
		{"custom", AudioConfig{PayloadType: 109, SSRC: 42, PacketSize: 60}, 109, 60},
		{"too small", AudioConfig{PacketSize: 3}, 111, minAudioPacketSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAudio(tc.cfg)
			if tc.cfg.SSRC != 0 && a.SSRC() != tc.cfg.SSRC || a.SSRC() == 0 {
				t.Fatalf("SSRC %d", a.SSRC())
			}
			seq, ts := tc.cfg.FirstSeq, tc.cfg.FirstTimestamp
			for n := range 20 {
				p := a.NextPacket()
				if p.SequenceNumber != seq || p.Timestamp != ts || p.Marker || p.Version != 2 ||
					p.PayloadType != tc.wantPT || p.SSRC != a.SSRC() {
					t.Fatalf("packet %d: header %+v, want seq %d ts %d", n, p.Header, seq, ts)
				}
				if len(p.Payload) != tc.wantSize {
					t.Fatalf("packet %d: %d bytes, want %d", n, len(p.Payload), tc.wantSize)
				}
				s, ok := ReadAudioStamp(p.Payload)
				if !ok || s != (Stamp{Frame: uint32(n), OrigSeq: seq}) {
					t.Fatalf("packet %d: stamp %+v ok=%v", n, s, ok)
				}
				seq++
				ts += 960
			}
		})
	}
}

func TestAudioZeroAllocs(t *testing.T) {
	a := NewAudio(AudioConfig{})
	a.NextPacket()
	if allocs := testing.AllocsPerRun(200, func() { a.NextPacket() }); allocs != 0 {
		t.Fatalf("NextPacket allocates %.1f times per run", allocs)
	}
}
