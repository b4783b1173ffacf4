package server_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/client"
)

// h264Frame returns one frame as single-NAL-unit packets: SPS, PPS and an IDR
// slice for a keyframe, one non-IDR slice otherwise.
func h264Frame(key bool) [][]byte {
	if key {
		return [][]byte{{0x67, 0x42, 0xe0, 0x1f}, {0x68, 0xce, 0x3c, 0x80}, {0x65, 0x88, 0x84, 0x00}}
	}
	return [][]byte{{0x41, 0x9a, 0x02, 0x03}}
}

// A host publishing H.264 reaches viewers as H.264, starting at a keyframe.
func TestH264Live(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	var mime string
	var nals []byte
	e.join("h264", "viewer", auth.RoleViewer, func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		mu.Lock()
		mime = tr.Codec().MimeType
		mu.Unlock()
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			mu.Lock()
			if len(p.Payload) > 0 {
				nals = append(nals, p.Payload[0]&0x1f)
			}
			mu.Unlock()
		}
	})
	h := e.join("h264", "host", auth.RoleHost, nil)
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
	}, "video", "cam")
	if err != nil {
		t.Fatal(err)
	}
	keyframe := make(chan struct{}, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := h.Publish(ctx, client.PublishOptions{OnKeyframeRequest: func(webrtc.TrackLocal) {
		select {
		case keyframe <- struct{}{}:
		default:
		}
	}}, track); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "publisher connected", func() bool {
		return h.Publisher().ConnectionState() == webrtc.PeerConnectionStateConnected
	})
	seq, ts := uint16(0), uint32(0)
	for frame := 0; frame < 90; frame++ {
		key := frame == 0
		select {
		case <-keyframe:
			key = true
		default:
		}
		pkts := h264Frame(key)
		for i, payload := range pkts {
			p := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, Marker: i == len(pkts)-1}, Payload: payload}
			if err := track.WriteRTP(p); err != nil {
				t.Fatal(err)
			}
			seq++
		}
		ts += 3000
		time.Sleep(33 * time.Millisecond)
	}
	waitFor(t, 5*time.Second, "H.264 at the viewer", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(nals) > 20
	})
	mu.Lock()
	defer mu.Unlock()
	if !strings.EqualFold(mime, webrtc.MimeTypeH264) {
		t.Fatalf("viewer track codec %s, want H264", mime)
	}
	if nals[0] != 7 {
		t.Fatalf("viewer's first NAL unit type %d, want 7 (SPS of a keyframe)", nals[0])
	}
}
