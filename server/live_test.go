package server_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/client"
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
		lastAudio := uint16(h.lastAudioSeq.Load())
		waitFor(t, 5*time.Second, who+" to receive the last audio packet", func() bool {
			_, a := r.snapshot()
			return len(a) > 0 && a[len(a)-1].stamp.OrigSeq == lastAudio
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
		// In the viewer's sequence order (a repaired packet arrives late on a
		// busy machine), the content is the host's, packet for packet.
		bySeq := slices.Clone(video)
		slices.SortStableFunc(bySeq, func(x, y packet) int { return int(int16(x.seq - y.seq)) })
		for j := 1; j < len(bySeq); j++ {
			if bySeq[j].stamp.OrigSeq != bySeq[j-1].stamp.OrigSeq+1 {
				t.Fatalf("%s: video content out of order at %d", who, j)
			}
		}
	}
}

// A viewer who joins mid-GOP is sent the cached packets from the last keyframe:
// the host here never sends a second keyframe and ignores PLIs, so the cache is
// the only way the viewer can start.
func TestLateViewerStartsAtCachedKeyframe(t *testing.T) {
	e := newEnv(t)
	h := e.startHost("late", "host", hostOptions{
		video:     synth.VideoConfig{KeyframeInterval: -1},
		ignorePLI: true,
	})
	time.Sleep(1500 * time.Millisecond)
	r := &recorder{}
	e.join("late", "latecomer", auth.RoleViewer, r.onTrack)
	waitFor(t, 5*time.Second, "late viewer to receive video", func() bool {
		v, _ := r.counts()
		return v > 50
	})
	h.stop()
	// The burst from the cache may overflow the viewer's socket; NACKs repair it.
	waitFor(t, 5*time.Second, "late viewer's gaps repaired", func() bool {
		v, _ := r.snapshot()
		return missing(v) == 0
	})
	video, _ := r.snapshot()
	first := video[0].stamp
	if !first.Keyframe || first.Index != 0 || first.Frame != 0 {
		t.Fatalf("late viewer's first packet is %+v, want the start of keyframe 0", first)
	}
	if n := checkContinuous(t, "late viewer video", video); n > 0 {
		t.Logf("%d packets recovered by NACK after the keyframe burst", n)
	}
	// The burst from the cache arrives well before the live edge's pace would allow.
	if video[0].stamp.Frame == video[len(video)-1].stamp.Frame {
		t.Fatal("late viewer received a single frame")
	}
}

// Turning the camera off stops video forwarding and tells viewers; turning it on
// resumes at a keyframe, with the viewer's sequence numbers continuing without a gap.
func TestHostMuteUnmute(t *testing.T) {
	e := newEnv(t)
	r := &recorder{}
	viewer := e.join("mute", "viewer", auth.RoleViewer, r.onTrack)
	h := e.startHost("mute", "host", hostOptions{})
	waitFor(t, 5*time.Second, "video before mute", func() bool { v, _ := r.counts(); return v > 30 })

	if err := h.c.SetMuted("video", true); err != nil {
		t.Fatal(err)
	}
	ev := nextEvent(t, viewer, "track_muted", 3*time.Second)
	if ev.Kind != "video" || ev.Muted == nil || !*ev.Muted {
		t.Fatalf("track_muted event = %+v", ev)
	}
	time.Sleep(300 * time.Millisecond) // packets in flight at the mute
	vMuted, aMuted := r.counts()
	time.Sleep(800 * time.Millisecond)
	vLater, aLater := r.counts()
	if vLater != vMuted {
		t.Fatalf("video kept flowing while muted: %d -> %d packets", vMuted, vLater)
	}
	if aLater <= aMuted {
		t.Fatalf("audio stopped while only video was muted: %d -> %d", aMuted, aLater)
	}

	if err := h.c.SetMuted("video", false); err != nil {
		t.Fatal(err)
	}
	ev = nextEvent(t, viewer, "track_muted", 3*time.Second)
	if ev.Kind != "video" || ev.Muted == nil || *ev.Muted {
		t.Fatalf("track_muted event = %+v", ev)
	}
	waitFor(t, 5*time.Second, "video after unmute", func() bool { v, _ := r.counts(); return v > vLater+30 })
	video, _ := r.snapshot()
	resumed := video[vLater]
	if !resumed.stamp.Keyframe || resumed.stamp.Index != 0 {
		t.Fatalf("first packet after unmute is %+v, want a keyframe start", resumed.stamp)
	}
	checkContinuous(t, "video across mute", video)
	if video[vLater].ts == video[vLater-1].ts {
		t.Fatal("timestamp did not advance across the mute")
	}
}

// Everyone hears the viewer count (host excluded) as viewers come and go.
func TestViewerCount(t *testing.T) {
	e := newEnv(t)
	h := e.join("count", "host", auth.RoleHost, nil)
	if got := h.Joined().ViewerCount; got != 0 {
		t.Fatalf("host joined with viewer count %d", got)
	}
	var viewers []*client.Client
	for i := 0; i < 3; i++ {
		viewers = append(viewers, e.join("count", fmt.Sprintf("v%d", i), auth.RoleViewer, nil))
	}
	waitCount(t, h, 3)
	waitCount(t, viewers[0], 3)
	if got := viewers[2].Joined().ViewerCount; got != 3 {
		t.Fatalf("third viewer joined seeing count %d, want 3", got)
	}
	if err := viewers[1].Leave(); err != nil {
		t.Fatal(err)
	}
	waitCount(t, h, 2)
	waitCount(t, viewers[2], 2)
	viewers[2].Close() // a dropped connection counts as leaving too
	waitCount(t, h, 1)
}

// waitCount reads c's events until a viewer_count of want arrives.
func waitCount(t *testing.T, c *client.Client, want int) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	last := -1
	for {
		select {
		case m, ok := <-c.Events():
			if !ok {
				t.Fatalf("connection ended waiting for viewer count %d", want)
			}
			if m.Type == "viewer_count" && m.Count != nil {
				if last = *m.Count; last == want {
					return
				}
			}
		case <-deadline:
			t.Fatalf("viewer count never reached %d (last %d)", want, last)
		}
	}
}

// Viewers get sender reports for both tracks, mapped onto their own SSRC and
// timestamps, so a browser can lip-sync audio and video.
func TestViewerGetsSenderReports(t *testing.T) {
	e := newEnv(t)
	r := &recorder{}
	e.join("sr", "viewer", auth.RoleViewer, r.onTrack)
	h := e.startHost("sr", "host", hostOptions{})
	var audioSR, videoSR bool
	waitFor(t, 10*time.Second, "sender reports for audio and video", func() bool {
		audioSR, videoSR = false, false
		for _, rep := range r.senderReports() {
			if rep.video {
				videoSR = true
			} else {
				audioSR = true
			}
		}
		return audioSR && videoSR
	})
	h.stop()
	video, audio := r.snapshot()
	for _, rep := range r.senderReports() {
		ssrc, clock := audio[0].ssrc, uint32(48000)
		if rep.video {
			ssrc, clock = video[0].ssrc, 90000
		}
		if rep.ssrc != ssrc {
			t.Fatalf("sender report for ssrc %d, viewer's track is %d", rep.ssrc, ssrc)
		}
		// The report's RTP time is "now" on the viewer's timeline: within half a
		// second of the newest packet received.
		if d := int32(rep.rtp - rep.lastSeen); d < -int32(clock/2) || d > int32(clock/2) {
			t.Fatalf("sender report rtp %d is %d ticks from the stream's %d (video %v)", rep.rtp, d, rep.lastSeen, rep.video)
		}
	}
}
