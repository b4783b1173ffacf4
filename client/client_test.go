package client

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/signal/wire"
)

const testTimeout = 10 * time.Second

func testAPI(t *testing.T) *webrtc.API {
	t.Helper()
	api, err := NewAPI(APIOptions{IncludeLoopback: true, NetworkTypes: []webrtc.NetworkType{webrtc.NetworkTypeUDP4}})
	if err != nil {
		t.Fatal(err)
	}
	return api
}

func join(t *testing.T, f *fakeSFU, token string, onTrack func(*webrtc.TrackRemote, *webrtc.RTPReceiver)) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := Join(ctx, Config{URL: f.srv.URL, Token: token, API: testAPI(t), OnTrack: onTrack})
	if err != nil {
		t.Fatalf("join %s: %v", token, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(testTimeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func nextEvent(t *testing.T, c *Client, typ string) wire.Message {
	t.Helper()
	m := recv(t, c.Events(), typ)
	if m.Type != typ {
		t.Fatalf("event %+v, want type %s", m, typ)
	}
	return m
}

func newTrack(t *testing.T, mime, id string) *webrtc.TrackLocalStaticRTP {
	t.Helper()
	tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: mime}, id, "stream-"+id)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// pump writes a small RTP packet every 10 ms until ctx ends; pion fills in
// SSRC and payload type per binding.
func pump(ctx context.Context, tr *webrtc.TrackLocalStaticRTP) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	p := &rtp.Packet{Header: rtp.Header{Version: 2, Marker: true}, Payload: []byte{0x10, 0, 0, 0x9d, 0x01, 0x2a}}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			p.SequenceNumber++
			p.Timestamp += 900
			if err := tr.WriteRTP(p); err != nil {
				return
			}
		}
	}
}

// countPackets reads tr until it fails, calls first after the first packet
// and reports the track's kind once n packets arrived.
func countPackets(tr *webrtc.TrackRemote, n int, first func(), reached chan<- string) {
	for i := 1; ; i++ {
		if _, _, err := tr.ReadRTP(); err != nil {
			return
		}
		if i == 1 && first != nil {
			first()
		}
		if i == n {
			reached <- tr.Kind().String()
		}
	}
}

func waitKinds(t *testing.T, ch <-chan string, kinds ...string) {
	t.Helper()
	want := map[string]bool{}
	for _, k := range kinds {
		want[k] = true
	}
	for len(want) > 0 {
		delete(want, recv(t, ch, "media"))
	}
}

// TestHost runs a host through a whole session against real pion
// connections: publish with media and a keyframe request flowing back, a
// subscriber offer with media, a renegotiation adding a track, host controls,
// events and leave.
func TestHost(t *testing.T) {
	f := newFakeSFU(t)
	clientReached := make(chan string, 8)
	c := join(t, f, "host", func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		countPackets(tr, 5, nil, clientReached)
	})
	s := f.session(t)
	if j := c.Joined(); j.Role != "host" || j.Room != "room1" {
		t.Fatalf("joined %+v", j)
	}
	nextEvent(t, c, wire.TypeJoined)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	media, stop := context.WithCancel(ctx)
	defer stop()

	// Publisher: the host's media reaches the server, the server's PLI
	// reaches OnKeyframeRequest.
	video, audio := newTrack(t, webrtc.MimeTypeVP8, "video"), newTrack(t, webrtc.MimeTypeOpus, "audio")
	keyframes := make(chan webrtc.TrackLocal, 16)
	senders, err := c.Publish(ctx, PublishOptions{OnKeyframeRequest: func(tr webrtc.TrackLocal) {
		select {
		case keyframes <- tr:
		default:
		}
	}}, video, audio)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	if len(senders) != 2 || c.Publisher() == nil {
		t.Fatalf("publish gave %d senders, publisher %v", len(senders), c.Publisher())
	}
	go pump(media, video)
	go pump(media, audio)
	serverReached := make(chan string, 4)
	for range 2 {
		tr := recv(t, s.pubTracks, "published track")
		var pli func()
		if tr.Kind() == webrtc.RTPCodecTypeVideo {
			pli = func() {
				_ = s.pub.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(tr.SSRC())}})
			}
		}
		go countPackets(tr, 5, pli, serverReached)
	}
	waitKinds(t, serverReached, "audio", "video")
	if kf := recv(t, keyframes, "keyframe request"); kf.ID() != "video" {
		t.Fatalf("keyframe requested on %q", kf.ID())
	}

	// Subscriber: first offer (candidates sent before it), then a
	// renegotiation that adds audio.
	if c.Subscriber() != nil {
		t.Fatal("subscriber exists before any offer")
	}
	sfuVideo, sfuAudio := newTrack(t, webrtc.MimeTypeVP8, "sfu-video"), newTrack(t, webrtc.MimeTypeOpus, "sfu-audio")
	if err := s.offerSubscriber(sfuVideo); err != nil {
		t.Fatal(err)
	}
	recv(t, s.answers, "subscriber answer")
	go pump(media, sfuVideo)
	waitKinds(t, clientReached, "video")
	if err := s.offerSubscriber(sfuAudio); err != nil {
		t.Fatal(err)
	}
	recv(t, s.answers, "renegotiated answer")
	go pump(media, sfuAudio)
	waitKinds(t, clientReached, "audio")
	if c.Subscriber() == nil {
		t.Fatal("no subscriber after offers")
	}

	// Controls and events, in order.
	if err := c.SetMuted("video", true); err != nil {
		t.Fatal(err)
	}
	if m := nextEvent(t, c, wire.TypeTrackMuted); m.Kind != "video" || m.Muted == nil || !*m.Muted {
		t.Fatalf("track_muted %+v", m)
	}
	if err := c.SetMuted("screen", true); err == nil {
		t.Fatal("mute of an unknown kind accepted")
	}
	if _, err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, c, wire.TypePong)
	s.send(wire.Message{Type: wire.TypeViewerCount, Count: wire.Int(3)})
	if m := nextEvent(t, c, wire.TypeViewerCount); m.Count == nil || *m.Count != 3 {
		t.Fatalf("viewer_count %+v", m)
	}
	if err := c.EndLive(); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, s.got, "end_live"); m.Type != wire.TypeEndLive {
		t.Fatalf("server got %+v", m)
	}

	stop()
	if err := c.Leave(); err != nil {
		t.Fatalf("leave: %v", err)
	}
	<-c.Done()
	if err := c.Err(); err != nil {
		t.Fatalf("Err after leave: %v", err)
	}
	for range c.Events() { // closed once the connection ended
	}
	if err := c.Send(wire.Message{Type: wire.TypePing}); !errors.Is(err, ErrClosed) {
		t.Fatalf("send after leave: %v", err)
	}
}

func TestJoinRejected(t *testing.T) {
	f := newFakeSFU(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := Join(ctx, Config{URL: f.srv.URL, Token: "bad", API: testAPI(t)})
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodeUnauthorized || !we.Fatal {
		t.Fatalf("Join = %v, %v; want a fatal unauthorized *wire.Error", c, err)
	}
}

func TestViewerCannotPublish(t *testing.T) {
	f := newFakeSFU(t)
	c := join(t, f, "viewer", nil)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	_, err := c.Publish(ctx, PublishOptions{}, newTrack(t, webrtc.MimeTypeVP8, "video"))
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodeForbidden {
		t.Fatalf("Publish = %v; want forbidden *wire.Error", err)
	}
	if c.Publisher() != nil {
		t.Fatal("publisher kept after a refused publish")
	}
	if _, err := c.Ping(ctx); err != nil {
		t.Fatalf("connection unusable after a refusal: %v", err)
	}
}

func TestServerEnds(t *testing.T) {
	fatal := wire.Errorf(wire.CodeReplaced, "joined elsewhere")
	fatal.Fatal = true
	for _, tc := range []struct {
		name  string
		msg   wire.Message
		check func(error) bool
	}{
		{"fatal error", wire.Message{Type: wire.TypeError, Error: fatal}, func(err error) bool {
			var we *wire.Error
			return errors.As(err, &we) && we.Code == wire.CodeReplaced
		}},
		{"shutdown", wire.Message{Type: wire.TypeServerShutdown, Reason: "deploy"}, func(err error) bool {
			return errors.Is(err, ErrServerShutdown)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSFU(t)
			c := join(t, f, "viewer", nil)
			s := f.session(t)
			s.send(tc.msg)
			_ = s.ws.CloseNow()
			recv(t, c.Done(), "end of connection")
			if err := c.Err(); !tc.check(err) {
				t.Fatalf("Err = %v", err)
			}
			nextEvent(t, c, wire.TypeJoined)
			nextEvent(t, c, tc.msg.Type)
		})
	}
}

func TestUndrainedEventsAreDropped(t *testing.T) {
	f := newFakeSFU(t)
	c := join(t, f, "viewer", nil)
	s := f.session(t)
	const sent = 1100
	for i := range sent {
		s.send(wire.Message{Type: wire.TypeViewerCount, Count: wire.Int(i)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if _, err := c.Ping(ctx); err != nil { // the reader kept going
		t.Fatal(err)
	}
	// joined + counts + pong, of which the buffer holds eventQueueLen.
	if got, want := c.DroppedEvents(), uint64(1+sent+1-eventQueueLen); got != want {
		t.Fatalf("dropped %d events, want %d", got, want)
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	f := newFakeSFU(t)
	c := join(t, f, "viewer", nil)
	for range 2 {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if c.Err() != nil {
		t.Fatalf("Err after Close: %v", c.Err())
	}
	if err := c.EndLive(); !errors.Is(err, ErrClosed) {
		t.Fatalf("EndLive after Close: %v", err)
	}
}

func TestWSURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:7880":      "ws://127.0.0.1:7880/ws",
		"https://sfu.example.com/":   "wss://sfu.example.com/ws",
		"ws://h:1/base":              "ws://h:1/base/ws",
		"wss://h/ws":                 "wss://h/ws",
		"http://h:1/x?region=eu#top": "ws://h:1/x/ws?region=eu",
	} {
		if got, err := wsURL(in); err != nil || got != want {
			t.Errorf("wsURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "ftp://h", "http://", "::"} {
		if _, err := wsURL(bad); err == nil {
			t.Errorf("wsURL(%q) accepted", bad)
		}
	}
}
