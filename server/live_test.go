package server_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/client/synth"
)

// Ten viewers wait for the host, who then publishes VP8 + Opus across a sequence
// number wrap; every viewer receives every video packet, in order, with
// continuous sequence numbers, starting at a keyframe.
func TestLiveTenViewers(t *testing.T) {
	e := newEnv(t)
	const n = 10
	recs := make([]*recorder, n)
	for i := range recs {
		recs[i] = &recorder{}
		e.join("talk", fmt.Sprintf("viewer%d", i), auth.RoleViewer, recs[i].onTrack)
	}
	h := e.startHost("talk", "host", hostOptions{
		video: synth.VideoConfig{FirstSeq: 65400},
		audio: synth.AudioConfig{FirstSeq: 65500},
	})
	time.Sleep(3 * time.Second)
	h.stop()
	sentVideo := int(h.videoSent.Load())
	for i, r := range recs {
		who := fmt.Sprintf("viewer %d", i)
		lastSeq := uint16(h.lastVideoSeq.Load())
		waitFor(t, 5*time.Second, who+" to receive the last video packet", func() bool {
			v, _ := r.snapshot()
			return len(v) > 0 && v[len(v)-1].stamp.OrigSeq == lastSeq
		})
		video, audio := r.snapshot()
		// A viewer starts at the newest cached keyframe when its connection is up
		// (the host may have sent a newer one on the SFU's request), and from there
		// must miss nothing.
		if !video[0].stamp.Keyframe || video[0].stamp.Index != 0 {
			t.Fatalf("%s: first video packet is not a keyframe start: %+v", who, video[0].stamp)
		}
		want := int(lastSeq-video[0].stamp.OrigSeq) + 1
		t.Logf("%s: %d video packets (expected %d of %d sent), %d audio", who, len(video), want, sentVideo, len(audio))
		if len(video) != want || want < sentVideo/2 {
			t.Fatalf("%s: got %d video packets from the first keyframe, want %d (host sent %d)", who, len(video), want, sentVideo)
		}
		checkContinuous(t, who+" video", video)
		checkContinuous(t, who+" audio", audio)
		for j := 1; j < len(video); j++ {
			if video[j].stamp.OrigSeq != video[j-1].stamp.OrigSeq+1 {
				t.Fatalf("%s: video content out of order at %d", who, j)
			}
		}
		if len(audio) == 0 || audio[len(audio)-1].stamp.OrigSeq != uint16(h.lastAudioSeq.Load()) {
			t.Fatalf("%s: audio did not reach the last packet sent", who)
		}
	}
}
