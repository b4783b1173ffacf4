package synth

import (
	"math"
	"testing"
	"time"
)

func TestVideoBitrate(t *testing.T) {
	tests := []struct {
		name string
		cfg  VideoConfig
	}{
		{"default", VideoConfig{}},
		{"1s interval scale 8", VideoConfig{KeyframeInterval: time.Second, KeyframeScale: 8}},
		{"low 150k 15fps", VideoConfig{Bitrate: 150_000, FPS: 15}},
		{"high 6M 60fps", VideoConfig{Bitrate: 6_000_000, FPS: 60, MaxPayload: 1200}},
		{"first keyframe only", VideoConfig{KeyframeInterval: -1}},
		{"odd fps", VideoConfig{Bitrate: 500_000, FPS: 7, KeyframeInterval: 3 * time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := NewVideo(tc.cfg)
			frames := int(10 * time.Second / v.FrameInterval())
			var bytes, keyBytes, deltaBytes, keys, deltas int
			for range frames {
				pkts := v.NextFrame()
				n := 0
				for _, p := range pkts {
					n += len(p.Payload)
				}
				bytes += n
				if s, _ := ReadVideoStamp(pkts[0].Payload); s.Keyframe {
					keyBytes += n
					keys++
				} else {
					deltaBytes += n
					deltas++
				}
			}
			want := float64(v.cfg.Bitrate)
			got := float64(bytes*8) / (float64(frames) * v.FrameInterval().Seconds())
			if math.Abs(got-want)/want > 0.05 {
				t.Fatalf("bitrate %.0f, want %.0f ±5%%", got, want)
			}
			if keys > 0 && deltas > 0 {
				ratio := float64(keyBytes) / float64(keys) / (float64(deltaBytes) / float64(deltas))
				if math.Abs(ratio-float64(v.cfg.KeyframeScale)) > 0.01*float64(v.cfg.KeyframeScale) {
					t.Fatalf("keyframe/delta size ratio %.3f, want %d", ratio, v.cfg.KeyframeScale)
				}
			}
		})
	}
}

func TestVideoTinyBitrate(t *testing.T) {
	v := NewVideo(VideoConfig{Bitrate: 1, MaxPayload: 1})
	for f := range 5 {
		pkts := v.NextFrame()
		if len(pkts) != 1 {
			t.Fatalf("frame %d: %d packets", f, len(pkts))
		}
		if _, ok := ReadVideoStamp(pkts[0].Payload); !ok {
			t.Fatalf("frame %d: unreadable stamp", f)
		}
	}
}
