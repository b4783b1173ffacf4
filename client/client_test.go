package client_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/server"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// These tests drive the SDK against a real talkrelay server on loopback:
// real signaling, real pion peers on both sides, real ICE, DTLS and SRTP.

func TestJoin(t *testing.T) {
	s := newSFU(t)
	v := s.join("lobby", "ann", auth.RoleViewer, nil)
	j := v.Joined()
	if j.Room != "lobby" || j.Identity != "ann" || j.Name != "ann name" || j.Role != "viewer" || j.ParticipantID == "" {
		t.Fatalf("viewer joined %+v", j)
	}
	if j.ViewerCount != 1 || j.Live != nil || j.Muted.Audio || j.Muted.Video {
		t.Fatalf("viewer joined a fresh room as %+v", j)
	}
	// Events starts with the joined reply itself.
	first := recv(t, v.Events(), "first event")
	if first.Type != wire.TypeJoined || first.Joined == nil || first.Joined.ParticipantID != j.ParticipantID {
		t.Fatalf("first event %+v, want joined", first)
	}
	if v.Subscriber() != nil || v.Publisher() != nil {
		t.Fatal("peer connections exist before anything was published")
	}

	// Config.Room is optional: the token names the room.
	cfg := s.config("lobby", "hal", auth.RoleHost)
	cfg.Room = ""
	h := s.joinWith(cfg)
	if hj := h.Joined(); hj.Room != "lobby" || hj.Role != "host" || hj.ViewerCount != 1 || hj.ParticipantID == j.ParticipantID {
		t.Fatalf("host joined %+v", hj)
	}
	if info, ok := s.srv.Rooms().Room("lobby"); !ok || info.Participants != 2 || info.Viewers != 1 {
		t.Fatalf("server sees room %+v, %v", info, ok)
	}
}

func TestJoinRefused(t *testing.T) {
	s := newSFU(t)
	foreign, err := auth.NewMinter("otherkey", strings.Repeat("x", auth.MinSecretLen))
	if err != nil {
		t.Fatal(err)
	}
	foreignToken, err := foreign.Mint(auth.Grant{Identity: "eve", Room: "a", Role: auth.RoleHost}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  func() client.Config
		code string
	}{
		{"malformed token", func() client.Config {
			return client.Config{URL: s.url, Token: "not-a-token", API: s.api}
		}, wire.CodeUnauthorized},
		{"unknown key", func() client.Config {
			return client.Config{URL: s.url, Token: foreignToken, API: s.api}
		}, wire.CodeUnauthorized},
		{"expired token", func() client.Config {
			return client.Config{URL: s.url, Token: s.tokenTTL("a", "ann", auth.RoleViewer, -time.Minute), API: s.api}
		}, wire.CodeTokenExpired},
		{"wrong room", func() client.Config {
			cfg := s.config("a", "ann", auth.RoleViewer)
			cfg.Room = "b"
			return cfg
		}, wire.CodeWrongRoom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			c, err := client.Join(ctx, tc.cfg())
			var we *wire.Error
			if !errors.As(err, &we) || we.Code != tc.code || !we.Fatal {
				t.Fatalf("Join = %v, %v; want a fatal %s *wire.Error", c, err, tc.code)
			}
			if c != nil {
				t.Fatal("Join returned a client with its error")
			}
		})
	}
	for _, room := range []string{"a", "b"} {
		if info, ok := s.srv.Rooms().Room(room); ok {
			t.Fatalf("a refused join left room %+v behind", info)
		}
	}
}

// TestLiveSession runs a live through the SFU: a viewer waiting before the
// host publishes, the host's media reaching it through subscriber offers and
// a renegotiation, keyframe requests flowing back to the host, host controls
// and the end of the live.
func TestLiveSession(t *testing.T) {
	s := newSFU(t)
	r := newReceiver()
	viewer := s.join("live", "vera", auth.RoleViewer, r.onTrack)
	host := s.join("live", "hal", auth.RoleHost, nil)
	if n := host.Joined().ViewerCount; n != 1 {
		t.Fatalf("host joined seeing %d viewers, want 1", n)
	}

	pub := publish(t, host)
	if len(pub.senders) != 2 || host.Publisher() == nil {
		t.Fatalf("publish gave %d senders, publisher %v", len(pub.senders), host.Publisher())
	}
	// The viewer's subscriber carries chat from the start, but no media yet.
	if sub := viewer.Subscriber(); sub != nil && len(sub.GetReceivers()) != 0 {
		t.Fatal("viewer receives tracks before any media reached the SFU")
	}

	// Video first. The SFU asks for a keyframe as soon as the track arrives,
	// and offers the waiting viewer a subscriber connection carrying it.
	pub.startVideo()
	if kf := recv(t, pub.keyframes, "keyframe request on publish"); kf != webrtc.TrackLocal(pub.vt) {
		t.Fatalf("keyframe requested on track %q, want video", kf.ID())
	}
	if ev := nextEvent(t, viewer, wire.TypeLiveStarted); ev.Live == nil || ev.Live.Host != "hal" || ev.Live.State != wire.LiveOn {
		t.Fatalf("live_started %+v", ev.Live)
	}
	r.waitPackets(t, "video", 30)
	sub := viewer.Subscriber()
	if sub == nil {
		t.Fatal("viewer receives media without a subscriber connection")
	}
	if vt := r.track("video"); !strings.EqualFold(vt.Codec().MimeType, webrtc.MimeTypeVP8) || vt.ID() != "video" || vt.StreamID() != "live" {
		t.Fatalf("video track %q in stream %q, codec %s; want video in live, VP8", vt.ID(), vt.StreamID(), vt.Codec().MimeType)
	}
	if r.track("audio") != nil {
		t.Fatal("viewer has an audio track before the host sent audio")
	}

	// Audio second: the SFU renegotiates the same subscriber connection to add it.
	pub.startAudio()
	r.waitPackets(t, "audio", 20)
	if viewer.Subscriber() != sub {
		t.Fatal("renegotiation replaced the subscriber connection")
	}
	if at := r.track("audio"); !strings.EqualFold(at.Codec().MimeType, webrtc.MimeTypeOpus) || at.ID() != "audio" || at.StreamID() != "live" {
		t.Fatalf("audio track %q in stream %q, codec %s; want audio in live, Opus", at.ID(), at.StreamID(), at.Codec().MimeType)
	}
	if desc := sub.CurrentRemoteDescription(); desc == nil || !strings.Contains(desc.SDP, "m=audio") || !strings.Contains(desc.SDP, "m=video") {
		t.Fatalf("subscriber's remote description lacks audio or video: %+v", desc)
	}

	// A viewer that lost its picture sends a PLI; the SFU relays it (at most
	// one per 500 ms) to the host's OnKeyframeRequest.
	drainKeyframes(t, pub)
	ssrc := uint32(r.track("video").SSRC())
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(testTimeout)
	for relayed := false; !relayed; {
		if err := sub.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}); err != nil {
			t.Fatalf("viewer PLI: %v", err)
		}
		select {
		case kf := <-pub.keyframes:
			if kf != webrtc.TrackLocal(pub.vt) {
				t.Fatalf("keyframe requested on track %q, want video", kf.ID())
			}
			relayed = true
		case <-tick.C:
		case <-deadline:
			t.Fatal("viewer's PLI never reached the host")
		}
	}

	// Mute reaches everyone in the room as track_muted.
	for _, muted := range []bool{true, false} {
		if err := host.SetMuted("video", muted); err != nil {
			t.Fatal(err)
		}
		for who, c := range map[string]*client.Client{"viewer": viewer, "host": host} {
			if m := nextEvent(t, c, wire.TypeTrackMuted); m.Kind != "video" || m.Muted == nil || *m.Muted != muted {
				t.Fatalf("%s got track_muted %+v, want video muted=%v", who, m, muted)
			}
		}
	}
	if err := host.SetMuted("screen", true); err == nil {
		t.Fatal("mute of an unknown kind accepted")
	}
	// Only the host mutes: the SFU refuses a viewer on Events, and the
	// session goes on.
	if err := viewer.SetMuted("audio", true); err != nil {
		t.Fatal(err)
	}
	if m := nextEvent(t, viewer, wire.TypeError); m.Error == nil || m.Error.Code != wire.CodeForbidden || m.Error.Fatal {
		t.Fatalf("viewer mute answered %+v, want a non-fatal forbidden", m.Error)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if _, err := viewer.Ping(ctx); err != nil {
		t.Fatalf("viewer unusable after a refused mute: %v", err)
	}

	// end_live reaches everyone as live_ended; a second one has no live to end.
	if err := host.EndLive(); err != nil {
		t.Fatal(err)
	}
	for who, c := range map[string]*client.Client{"viewer": viewer, "host": host} {
		m := nextEvent(t, c, wire.TypeLiveEnded)
		if m.Live == nil || m.Live.State != wire.LiveEnded || m.Live.EndReason != wire.EndHostEnded || m.Live.Host != "hal" {
			t.Fatalf("%s got live_ended %+v", who, m.Live)
		}
	}
	if err := host.EndLive(); err != nil {
		t.Fatal(err)
	}
	if m := nextEvent(t, host, wire.TypeError); m.Error == nil || m.Error.Code != wire.CodeNotLive {
		t.Fatalf("second end_live answered %+v, want %s", m.Error, wire.CodeNotLive)
	}
	pub.stop()
	drainKeyframes(t, pub)
	for _, c := range []*client.Client{viewer, host} {
		if err := c.Err(); err != nil {
			t.Fatalf("a participant's connection ended: %v", err)
		}
	}
}

// After end_live the SFU has closed the host's publisher connection and, per
// PROTOCOL.md, a new offer starts a new live on the same signaling connection.
func TestPublishAgainAfterEndLive(t *testing.T) {
	s := newSFU(t)
	r := newReceiver()
	viewer := s.join("again", "vera", auth.RoleViewer, r.onTrack)
	host := s.join("again", "hal", auth.RoleHost, nil)
	first := publish(t, host)
	first.startVideo()
	r.waitPackets(t, "video", 10)
	if err := host.EndLive(); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, viewer, wire.TypeLiveEnded)
	first.stop()
	waitFor(t, "the SFU to close the host's publisher", func() bool {
		return host.Publisher().ConnectionState() == webrtc.PeerConnectionStateClosed
	})

	second, err := tryPublish(t, host)
	if err != nil {
		t.Fatalf("publish after end_live: %v", err)
	}
	good, _ := r.count("video")
	second.startVideo()
	if ev := nextEvent(t, viewer, wire.TypeLiveStarted); ev.Live == nil || ev.Live.State != wire.LiveOn {
		t.Fatalf("live_started %+v", ev.Live)
	}
	waitFor(t, "video of the second live", func() bool {
		n, _ := r.count("video")
		return n >= good+10
	})
}

// drainKeyframes empties pub.keyframes, checking every request was for video.
func drainKeyframes(t *testing.T, pub *publication) {
	t.Helper()
	for {
		select {
		case kf := <-pub.keyframes:
			if kf != webrtc.TrackLocal(pub.vt) {
				t.Fatalf("keyframe requested on track %q, want video only", kf.ID())
			}
		default:
			return
		}
	}
}

// Viewer counts reach the host as viewers join, leave and drop; Leave ends a
// connection cleanly.
func TestViewerCountAndLeave(t *testing.T) {
	t.Parallel() // bound by the server's timers, not by work
	s := newSFU(t)
	host := s.join("count", "hal", auth.RoleHost, nil)
	v1 := s.join("count", "v1", auth.RoleViewer, nil)
	waitCount(t, host, 1)
	v2 := s.join("count", "v2", auth.RoleViewer, nil)
	waitCount(t, host, 2)
	if n := v2.Joined().ViewerCount; n != 2 {
		t.Fatalf("second viewer joined seeing %d viewers", n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if rtt, err := host.Ping(ctx); err != nil || rtt <= 0 {
		t.Fatalf("Ping = %v, %v", rtt, err)
	}
	nextEvent(t, host, wire.TypePong)

	if err := v1.Leave(); err != nil {
		t.Fatalf("leave: %v", err)
	}
	recv(t, v1.Done(), "end of the connection after leave")
	if err := v1.Err(); err != nil {
		t.Fatalf("Err after leave: %v", err)
	}
	drain(t, v1) // closed once the connection ended
	if err := v1.Send(wire.Message{Type: wire.TypePing}); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Send after leave: %v", err)
	}
	if _, err := v1.Ping(ctx); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Ping after leave: %v", err)
	}
	if err := v1.Close(); err != nil {
		t.Fatalf("Close after leave: %v", err)
	}
	waitCount(t, host, 1)

	// A connection closed without leave counts as gone too.
	if err := v2.Close(); err != nil {
		t.Fatal(err)
	}
	waitCount(t, host, 0)
}

func TestCloseIsIdempotent(t *testing.T) {
	s := newSFU(t)
	c := s.join("close", "ann", auth.RoleViewer, nil)
	for range 2 {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done open after Close returned")
	}
	if err := c.Err(); err != nil {
		t.Fatalf("Err after Close: %v", err)
	}
	drain(t, c)
	if err := c.EndLive(); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("EndLive after Close: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if _, err := c.Ping(ctx); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Ping after Close: %v", err)
	}
	tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", "mic")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(ctx, client.PublishOptions{}, tr); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Publish after Close: %v", err)
	}
	// The server saw the participant go: its room, now empty, is gone.
	waitFor(t, "server to drop the closed participant's room", func() bool {
		_, ok := s.srv.Rooms().Room("close")
		return !ok
	})
}

func TestViewerCannotPublish(t *testing.T) {
	s := newSFU(t)
	c := s.join("nopub", "ann", auth.RoleViewer, nil)
	tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "cam")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	for range 2 { // a refused Publish may be retried, and is refused again
		_, err := c.Publish(ctx, client.PublishOptions{}, tr)
		var we *wire.Error
		if !errors.As(err, &we) || we.Code != wire.CodeForbidden || we.Fatal {
			t.Fatalf("Publish = %v; want a non-fatal forbidden *wire.Error", err)
		}
		if c.Publisher() != nil {
			t.Fatal("publisher kept after a refused publish")
		}
	}
	if _, err := c.Ping(ctx); err != nil {
		t.Fatalf("connection unusable after a refusal: %v", err)
	}
	if err := c.Err(); err != nil {
		t.Fatalf("connection ended: %v", err)
	}
}

// The server ends a connection: with a fatal error (the same identity joined
// elsewhere) or because it shuts down. Err says which.
func TestServerEnds(t *testing.T) {
	t.Run("replaced", func(t *testing.T) {
		s := newSFU(t)
		first := s.join("dup", "ann", auth.RoleViewer, nil)
		second := s.join("dup", "ann", auth.RoleViewer, nil)
		recv(t, first.Done(), "end of the replaced connection")
		var we *wire.Error
		if err := first.Err(); !errors.As(err, &we) || we.Code != wire.CodeReplaced || !we.Fatal {
			t.Fatalf("Err = %v; want a fatal %s *wire.Error", err, wire.CodeReplaced)
		}
		evs := drain(t, first)
		if len(evs) == 0 || evs[0].Type != wire.TypeJoined {
			t.Fatalf("events %+v, want joined first", evs)
		}
		if !hasEvent(evs, wire.TypeError, func(m wire.Message) bool { return m.Error != nil && m.Error.Code == wire.CodeReplaced }) {
			t.Fatalf("events %+v lack the replaced error", evs)
		}
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if _, err := second.Ping(ctx); err != nil {
			t.Fatalf("the replacing connection: %v", err)
		}
	})
	t.Run("shutdown", func(t *testing.T) {
		s := newSFU(t)
		c := s.join("bye", "ann", auth.RoleViewer, nil)
		if err := s.shutdown(); err != nil {
			t.Fatal(err)
		}
		recv(t, c.Done(), "end of the connection at shutdown")
		if err := c.Err(); !errors.Is(err, client.ErrServerShutdown) {
			t.Fatalf("Err = %v; want ErrServerShutdown", err)
		}
		evs := drain(t, c)
		if !hasEvent(evs, wire.TypeServerShutdown, func(m wire.Message) bool { return m.Reason != "" }) {
			t.Fatalf("events %+v lack server_shutdown with a reason", evs)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("Close after shutdown: %v", err)
		}
	})
}

// Events that are not drained are dropped and counted, never blocking the
// reader. A host alone in its room gets nothing unasked, so pongs make an
// exact count. Pings go in batches, each closed by a Ping round trip, so the
// server never has more than a batch of replies queued for us.
func TestUndrainedEventsAreDropped(t *testing.T) {
	// The test floods on purpose: lift the server's signaling rate limit.
	s := newSFU(t, func(c *server.Config) { c.MessageRate, c.MessageBurst = 1e6, 1e6 })
	c := s.join("flood", "hal", auth.RoleHost, nil)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	const batches, perBatch = 10, 110
	for b := range batches {
		for i := range perBatch {
			// An id of our own makes the server echo it on the pong, which
			// Events delivers like any reply (ping without id is keepalive).
			if err := c.Send(wire.Message{Type: wire.TypePing, ID: fmt.Sprintf("flood-%d-%d", b, i)}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.Ping(ctx); err != nil { // the reader kept going
			t.Fatal(err)
		}
	}
	held := cap(c.Events())
	total := 1 + batches*(perBatch+1) // joined, then a pong per ping
	if total <= held {
		t.Fatalf("test sends %d events, not more than the %d Events holds", total, held)
	}
	if got, want := c.DroppedEvents(), uint64(total-held); got != want {
		t.Fatalf("dropped %d events, want %d", got, want)
	}
	if n := len(c.Events()); n != held {
		t.Fatalf("Events holds %d, want it full (%d)", n, held)
	}
	// The oldest events are kept: joined, then pongs.
	for i := range held {
		m := <-c.Events()
		if want := map[bool]string{true: wire.TypeJoined, false: wire.TypePong}[i == 0]; m.Type != want {
			t.Fatalf("event %d is %s, want %s", i, m.Type, want)
		}
	}
	// Drained, Events flows again.
	if _, err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, c, wire.TypePong)
	if got := c.DroppedEvents(); got != uint64(total-held) {
		t.Fatalf("dropped count moved to %d after draining", got)
	}
}

// The SDK pings on its own, so a participant with nothing to say (a viewer
// who only watches) outlives the server's idle timeout; the keepalive pongs
// stay off Events. Without keepalives in time the server closes it.
func TestKeepalive(t *testing.T) {
	t.Parallel() // bound by the server's timers, not by work
	const idle = time.Second
	s := newSFU(t, func(c *server.Config) { c.IdleTimeout = idle })
	cfg := s.config("quiet", "ann", auth.RoleViewer)
	cfg.KeepaliveInterval = idle / 5
	kept := s.joinWith(cfg)
	cfg = s.config("quiet", "bob", auth.RoleViewer)
	cfg.KeepaliveInterval = time.Hour
	silent := s.joinWith(cfg)

	recv(t, silent.Done(), "idle timeout of the silent viewer")
	var we *wire.Error
	if err := silent.Err(); !errors.As(err, &we) || we.Code != wire.CodeIdleTimeout || !we.Fatal {
		t.Fatalf("silent viewer's Err = %v; want a fatal %s *wire.Error", err, wire.CodeIdleTimeout)
	}
	time.Sleep(2 * idle) // the kept viewer's own silence would have ended it by now
	if err := kept.Err(); err != nil {
		t.Fatalf("viewer with keepalives ended: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if _, err := kept.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := kept.Close(); err != nil {
		t.Fatal(err)
	}
	pongs := 0
	for _, m := range drain(t, kept) {
		if m.Type == wire.TypePong {
			pongs++
		}
	}
	if pongs != 1 {
		t.Fatalf("%d pongs on Events, want only the one Ping asked for", pongs)
	}
}
