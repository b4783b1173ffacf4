package whip_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/client/synth"
	"github.com/talkrelay/talkrelay/server"
	"github.com/talkrelay/talkrelay/server/servertest"
)

// node is a test server with what WHIP and WHEP tests need.
type node struct {
	*servertest.Node
	t   *testing.T
	api *webrtc.API
}

func startNode(t *testing.T, tweak ...func(*server.Config)) *node {
	t.Helper()
	return &node{Node: servertest.Start(t, tweak...), t: t, api: servertest.ClientAPI(t)}
}

func (n *node) token(room, identity string, role auth.Role) string {
	return n.Token(n.t, room, identity, role)
}

// request sends an HTTP request to the node; headers alternate name, value.
func (n *node) request(method, path, token, contentType, body string, headers ...string) *http.Response {
	n.t.Helper()
	req, err := http.NewRequest(method, n.URL+path, strings.NewReader(body))
	if err != nil {
		n.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatalf("%s %s: %v", method, path, err)
	}
	n.t.Cleanup(func() { res.Body.Close() })
	return res
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func wantStatus(t *testing.T, res *http.Response, want int) string {
	t.Helper()
	body := readAll(t, res)
	if res.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d; body %s", res.Request.Method, res.Request.URL.Path, res.StatusCode, want, body)
	}
	return body
}

// offerFrom creates pc's offer and returns it with every candidate in it.
func offerFrom(t *testing.T, pc *webrtc.PeerConnection, opts *webrtc.OfferOptions) string {
	t.Helper()
	offer, err := pc.CreateOffer(opts)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return pc.LocalDescription().SDP
}

// publisher is a pion WHIP client sending synthetic VP8 video and Opus audio.
type publisher struct {
	pc       *webrtc.PeerConnection
	vt, at   *webrtc.TrackLocalStaticRTP
	video    *synth.Video
	resource string
	etag     string
	answer   string
	cancel   context.CancelFunc
	done     chan error
}

// newPublisher prepares a WHIP client's connection and offer.
func (n *node) newPublisher() (*publisher, string) {
	n.t.Helper()
	pc, err := n.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() { _ = pc.Close() })
	p := &publisher{pc: pc, video: synth.NewVideo(synth.VideoConfig{Bitrate: 300_000, Width: 320, Height: 240})}
	p.vt, _ = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "whip")
	p.at, _ = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "whip")
	for _, tr := range []webrtc.TrackLocal{p.vt, p.at} {
		t, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			n.t.Fatal(err)
		}
		// Keyframe requests: answered at once, as encoders do.
		go func() {
			for {
				pkts, _, err := t.Sender().ReadRTCP()
				if err != nil {
					return
				}
				for _, pk := range pkts {
					if _, ok := pk.(*rtcp.PictureLossIndication); ok {
						p.video.RequestKeyframe()
					}
				}
			}
		}()
	}
	return p, offerFrom(n.t, pc, nil)
}

// publish starts a WHIP session in room and paces media once connected.
func (n *node) publish(room, identity string) *publisher {
	n.t.Helper()
	p, offer := n.newPublisher()
	res := n.request("POST", "/whip/"+room, n.token(room, identity, auth.RoleHost), "application/sdp", offer)
	p.answer = wantStatus(n.t, res, http.StatusCreated)
	p.resource, p.etag = res.Header.Get("Location"), res.Header.Get("ETag")
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: p.answer}); err != nil {
		n.t.Fatal(err)
	}
	servertest.WaitFor(n.t, 10*time.Second, "WHIP publisher connected", func() bool {
		return p.pc.ConnectionState() == webrtc.PeerConnectionStateConnected
	})
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan error, 1)
	audio := synth.NewAudio(synth.AudioConfig{})
	// Pacer: owned by the publisher, ends at stop.
	go func() {
		p.done <- synth.Pace(ctx, p.video, func(pk *rtp.Packet) error { return p.vt.WriteRTP(pk) }, audio, func(pk *rtp.Packet) error { return p.at.WriteRTP(pk) })
	}()
	n.t.Cleanup(p.stop)
	return p
}

func (p *publisher) stop() {
	if p.cancel == nil {
		return
	}
	p.cancel()
	if err := <-p.done; err != nil && !errors.Is(err, io.ErrClosedPipe) {
		panic(err)
	}
	p.cancel = nil
}

// viewer is a pion WHEP client counting what it receives.
type viewer struct {
	pc       *webrtc.PeerConnection
	video    atomic.Int64
	audio    atomic.Int64
	resource string
	etag     string
	answer   string
}

// newViewer prepares a WHEP client's connection (recvonly audio and video)
// and its offer.
func (n *node) newViewer(api *webrtc.API) (*viewer, string) {
	n.t.Helper()
	if api == nil {
		api = n.api
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() { _ = pc.Close() })
	v := &viewer{pc: pc}
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			n.t.Fatal(err)
		}
	}
	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		count := &v.audio
		if t.Kind() == webrtc.RTPCodecTypeVideo {
			count = &v.video
		}
		for {
			if _, _, err := t.ReadRTP(); err != nil {
				return
			}
			count.Add(1)
		}
	})
	return v, offerFrom(n.t, pc, nil)
}

// watch starts a WHEP session in room, which must be live.
func (n *node) watch(room, identity string) *viewer {
	n.t.Helper()
	v, offer := n.newViewer(nil)
	res := n.request("POST", "/whep/"+room, n.token(room, identity, auth.RoleViewer), "application/sdp", offer)
	v.answer = wantStatus(n.t, res, http.StatusCreated)
	v.resource, v.etag = res.Header.Get("Location"), res.Header.Get("ETag")
	if err := v.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: v.answer}); err != nil {
		n.t.Fatal(err)
	}
	return v
}

// receives waits until the viewer has received some video and audio.
func (v *viewer) receives(t *testing.T, what string) {
	t.Helper()
	video, audio := v.video.Load(), v.audio.Load()
	servertest.WaitFor(t, 10*time.Second, what, func() bool {
		return v.video.Load() > video+20 && v.audio.Load() > audio+20
	})
}

// viewers is the room's viewer count from the REST API.
func (n *node) viewers(room string) int {
	info, ok := n.Rooms().Room(room)
	if !ok {
		return 0
	}
	return info.Viewers
}
