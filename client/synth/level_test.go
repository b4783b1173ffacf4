package synth

import "testing"

func TestAudioLevel(t *testing.T) {
	a := NewAudio(AudioConfig{Level: 30})
	if a.Level() != 30 {
		t.Fatalf("level %d, want the configured 30", a.Level())
	}
	before := string(a.NextPacket().Payload[0:1])
	a.SetLevel(200)
	if a.Level() != 127 {
		t.Fatalf("level %d after setting 200, want it capped at 127 (silence)", a.Level())
	}
	if after := string(a.NextPacket().Payload[0:1]); after != before {
		t.Fatal("the level changed the payload")
	}
	for _, tc := range []struct{ level, want byte }{{0, 0x80}, {42, 0x80 | 42}, {126, 0x80 | 126}, {127, 127}, {255, 127}} {
		if got := AudioLevelByte(tc.level); got != tc.want {
			t.Errorf("AudioLevelByte(%d) = %#x, want %#x", tc.level, got, tc.want)
		}
	}
}
