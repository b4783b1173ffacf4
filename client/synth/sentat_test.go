package synth

import (
	"testing"
	"time"
)

func TestStampSentAt(t *testing.T) {
	at := time.Unix(1_800_000_000, 123_456_789)
	now := func() time.Time { return at }

	v := NewVideo(VideoConfig{Now: now, MaxPayload: 1})
	for f := range 3 {
		for i, p := range v.NextFrame() {
			s, ok := ReadVideoStamp(p.Payload)
			if !ok || s.SentAt != at.UnixNano() || s.Frame != uint32(f) || s.Index != uint16(i) {
				t.Fatalf("video frame %d pkt %d: %+v ok=%v", f, i, s, ok)
			}
		}
		at = at.Add(time.Millisecond)
	}
	a := NewAudio(AudioConfig{Now: now})
	if s, ok := ReadAudioStamp(a.NextPacket().Payload); !ok || s.SentAt != at.UnixNano() {
		t.Fatalf("audio: %+v ok=%v", s, ok)
	}

	// Without a clock the stamp stays deterministic.
	if s, _ := ReadVideoStamp(NewVideo(VideoConfig{}).NextFrame()[0].Payload); s.SentAt != 0 {
		t.Fatalf("SentAt %d without Now", s.SentAt)
	}
}

func TestMinMaxPayloadHoldsStamp(t *testing.T) {
	// Every packet of every frame size near the smallest split must carry a
	// readable stamp.
	for bitrate := 20_000; bitrate < 80_000; bitrate += 700 {
		v := NewVideo(VideoConfig{Bitrate: bitrate, MaxPayload: 1, KeyframeInterval: 200 * time.Millisecond})
		for f := range 12 {
			for i, p := range v.NextFrame() {
				if _, ok := ReadVideoStamp(p.Payload); !ok || len(p.Payload) > minMaxPayload {
					t.Fatalf("bitrate %d frame %d pkt %d (%d bytes): unreadable or oversized", bitrate, f, i, len(p.Payload))
				}
			}
		}
	}
}
