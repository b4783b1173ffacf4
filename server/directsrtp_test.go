package server_test

import (
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/auth"
)

// Viewers reached over UDP get SRTP the SFU encrypts and batches itself (the
// direct path, keys derived from the DTLS handshake): every down track takes
// it, and the viewers' pion stacks decrypt a continuous stream.
func TestViewersGetDirectSRTP(t *testing.T) {
	e := newEnv(t)
	var recs [2]recorder
	e.join("direct", "v1", auth.RoleViewer, recs[0].onTrack)
	e.join("direct", "v2", auth.RoleViewer, recs[1].onTrack)
	e.startHost("direct", "host", hostOptions{})
	for i := range recs {
		waitFor(t, 10*time.Second, "media decrypted by the viewer", func() bool {
			v, a := recs[i].counts()
			return v > 60 && a > 20
		})
		video, audio := recs[i].snapshot()
		checkContinuous(t, "viewer (video)", video)
		checkContinuous(t, "viewer (audio)", audio)
	}
	_, got := scrape(t, e.url)
	if d, p := got[`talkrelay_down_tracks_total{path="direct"}`], got[`talkrelay_down_tracks_total{path="pion"}`]; d != 4 || p != 0 {
		t.Fatalf("down tracks: %v direct, %v through pion; want all 4 direct", d, p)
	}
}
