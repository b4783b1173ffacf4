package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/client/synth"
	"github.com/talkrelay/talkrelay/server"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// phone is one device of a caller: a client joined with a caller token that
// records what it receives and, in a call, publishes synthetic media.
type phone struct {
	t      *testing.T
	who    string
	c      *client.Client
	rec    *recorder
	video  *synth.Video
	vt, at *webrtc.TrackLocalStaticRTP
	cancel context.CancelFunc
	done   chan error
	onRTCP func(webrtc.TrackLocal, rtcp.Packet) // sees the SFU's RTCP about published tracks
}

// connect joins identity as a caller device.
func (e *env) connect(identity string) *phone {
	e.t.Helper()
	ph, err := e.tryConnect(identity)
	if err != nil {
		e.t.Fatalf("connect %s: %v", identity, err)
	}
	return ph
}

func (e *env) tryConnect(identity string) (*phone, error) {
	ph := &phone{t: e.t, who: identity, rec: &recorder{}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Join(ctx, client.Config{
		URL: e.url, Token: e.token("", identity, auth.RoleCaller), API: e.api, OnTrack: ph.rec.onTrack,
	})
	if err != nil {
		return nil, err
	}
	ph.c = c
	e.t.Cleanup(func() {
		ph.stopMedia()
		c.Close()
	})
	return ph, nil
}

func callCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

// invite places a call and returns it (ringing, or ended at once).
func (ph *phone) invite(callee, mode string) wire.Call {
	ph.t.Helper()
	ctx, cancel := callCtx()
	defer cancel()
	c, err := ph.c.Invite(ctx, callee, mode)
	if err != nil {
		ph.t.Fatalf("%s invites %s: %v", ph.who, callee, err)
	}
	return c
}

// ringing waits for the device to ring and returns the call.
func (ph *phone) ringing() wire.Call {
	ph.t.Helper()
	return *nextEvent(ph.t, ph.c, wire.TypeCallRinging, 5*time.Second).Call
}

func (ph *phone) accept(id string) wire.Call {
	ph.t.Helper()
	ctx, cancel := callCtx()
	defer cancel()
	c, err := ph.c.Accept(ctx, id)
	if err != nil {
		ph.t.Fatalf("%s accepts: %v", ph.who, err)
	}
	return c
}

// ended waits for call.ended of call id (any call if id is empty), skipping
// the ends of others (those that answered this device's own requests).
func (ph *phone) ended(id string) wire.Call {
	ph.t.Helper()
	for {
		c := *nextEvent(ph.t, ph.c, wire.TypeCallEnded, 5*time.Second).Call
		if id == "" || c.ID == id {
			return c
		}
	}
}

// publish sends Opus audio and, for video, VP8 video in real time.
func (ph *phone) publish(video bool) {
	ph.t.Helper()
	var err error
	ph.at, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", ph.who)
	if err != nil {
		ph.t.Fatal(err)
	}
	tracks := []webrtc.TrackLocal{ph.at}
	if video {
		ph.addVideoTrack()
		tracks = append(tracks, ph.vt)
	}
	ctx, cancel := callCtx()
	defer cancel()
	if _, err := ph.c.Publish(ctx, ph.publishOptions(), tracks...); err != nil {
		ph.t.Fatalf("%s publishes: %v", ph.who, err)
	}
	waitFor(ph.t, 10*time.Second, ph.who+" publisher connected", func() bool {
		pc := ph.c.Publisher()
		return pc != nil && pc.ConnectionState() == webrtc.PeerConnectionStateConnected
	})
	ph.startPacing()
}

func (ph *phone) addVideoTrack() {
	var err error
	ph.vt, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", ph.who)
	if err != nil {
		ph.t.Fatal(err)
	}
	ph.video = synth.NewVideo(synth.VideoConfig{Bitrate: 400_000})
}

func (ph *phone) publishOptions() client.PublishOptions {
	return client.PublishOptions{OnKeyframeRequest: func(t webrtc.TrackLocal) {
		if t == ph.vt && ph.video != nil {
			ph.video.RequestKeyframe()
		}
	}, OnRTCP: ph.onRTCP}
}

// startPacing (re)starts the pacer over the tracks published so far.
func (ph *phone) startPacing() {
	ph.stopMedia()
	ctx, cancel := context.WithCancel(context.Background())
	ph.cancel, ph.done = cancel, make(chan error, 1)
	var v *synth.Video
	var writeVideo func(*rtp.Packet) error
	if ph.vt != nil {
		v, writeVideo = ph.video, ph.vt.WriteRTP
	}
	a := synth.NewAudio(synth.AudioConfig{})
	go func() { ph.done <- synth.Pace(ctx, v, writeVideo, a, ph.at.WriteRTP) }()
}

func (ph *phone) stopMedia() {
	if ph.cancel == nil {
		return
	}
	ph.cancel()
	if err := <-ph.done; err != nil && !errors.Is(err, io.ErrClosedPipe) {
		ph.t.Errorf("%s pacing: %v", ph.who, err)
	}
	ph.cancel = nil
}

// receivesFrom waits until the phone has received more media of each kind than
// it had (video only when wanted).
func (ph *phone) receivesMore(video bool) {
	ph.t.Helper()
	v0, a0 := ph.rec.counts()
	waitFor(ph.t, 10*time.Second, ph.who+" receives media", func() bool {
		v, a := ph.rec.counts()
		return a > a0+20 && (!video || v > v0+20)
	})
}

// callerTweak makes rings and reconnects quick enough for tests.
func callerTweak(c *server.Config) {
	c.RingTimeout = 2 * time.Second
	c.CallReconnectGrace = 3 * time.Second
}

// talk connects alice and bob and sets up an answered call in mode, both
// publishing; it returns the call.
func (e *env) talk(alice, bob *phone, mode string) wire.Call {
	e.t.Helper()
	out := alice.invite(bob.who, mode)
	if out.State != wire.CallRinging {
		e.t.Fatalf("invite: state %q outcome %q, want ringing", out.State, out.Outcome)
	}
	in := bob.ringing()
	if in.ID != out.ID || in.Caller != alice.who || in.CallerName != alice.who+" name" || in.Mode != mode {
		e.t.Fatalf("ringing %+v does not match the call %+v", in, out)
	}
	acc := bob.accept(in.ID)
	if acc.State != wire.CallActive {
		e.t.Fatalf("accepted call state %q", acc.State)
	}
	nextEvent(e.t, alice.c, wire.TypeCallAccepted, 5*time.Second)
	video := mode == "video"
	alice.publish(video)
	bob.publish(video)
	return acc
}

func TestCallVideoBothWaysThenHangup(t *testing.T) {
	e := newEnv(t, callerTweak)
	alice, bob := e.connect("alice"), e.connect("bob")
	c := e.talk(alice, bob, "video")
	alice.receivesMore(true)
	bob.receivesMore(true)
	// Each side hears and sees only the other.
	for _, ph := range []*phone{alice, bob} {
		v, a := ph.rec.snapshot()
		checkContinuous(t, ph.who+" video", v)
		checkContinuous(t, ph.who+" audio", a)
	}

	ctx, cancel := callCtx()
	defer cancel()
	ended, err := alice.c.Hangup(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	other := bob.ended(c.ID)
	for _, got := range []wire.Call{ended, other} {
		if got.Outcome != "accepted" || got.Reason != "hangup" || got.DurationMS <= 0 || got.AnsweredAt == 0 {
			t.Errorf("ended call %+v: want outcome accepted, reason hangup, a duration", got)
		}
	}
	// Both devices stay reachable: a second call works on the same connections.
	alice.stopMedia()
	bob.stopMedia()
	e.talk(bob, alice, "voice")
	alice.receivesMore(false)
	bob.receivesMore(false)

	// The records are kept for both sides, newest first.
	var recs []struct {
		ID, Caller, Callee, Mode, Outcome, Reason string
		DurationMS                                int64 `json:"duration_ms"`
	}
	getJSON(t, e.url+"/v1/users/alice/calls", e.token("", "alice", auth.RoleCaller), 200, &recs)
	if len(recs) != 1 || recs[0].ID != c.ID || recs[0].Caller != "alice" || recs[0].Callee != "bob" ||
		recs[0].Mode != "video" || recs[0].Outcome != "accepted" || recs[0].Reason != "hangup" || recs[0].DurationMS <= 0 {
		t.Errorf("alice's calls: %+v", recs)
	}
}

func TestCallVoiceUpgradesToVideo(t *testing.T) {
	e := newEnv(t, callerTweak)
	alice, bob := e.connect("alice"), e.connect("bob")
	c := e.talk(alice, bob, "voice")
	bob.receivesMore(false)
	if v, _ := bob.rec.counts(); v != 0 {
		t.Fatalf("voice call delivered %d video packets", v)
	}
	ctx, cancel := callCtx()
	defer cancel()
	// Video before the switch is refused.
	alice.addVideoTrack()
	if _, err := alice.c.AddTracks(ctx, alice.publishOptions(), alice.vt); !isCode(err, wire.CodeForbidden) {
		t.Fatalf("video in a voice call: got %v, want forbidden", err)
	}
	alice.stopMedia()
	if err := alice.c.Close(); err != nil {
		t.Logf("close: %v", err)
	}
	// alice comes back on a new device (her first one could not renegotiate
	// after the refused offer) and the call resumes.
	alice = e.connect("alice")
	resumed := nextEvent(t, alice.c, wire.TypeCallResumed, 5*time.Second).Call
	if resumed.ID != c.ID {
		t.Fatalf("resumed %s, want %s", resumed.ID, c.ID)
	}
	alice.publish(false)
	up, err := alice.c.SetCallMode(ctx, c.ID, "video")
	if err != nil || up.Mode != "video" {
		t.Fatalf("switch to video: %+v %v", up, err)
	}
	if m := nextEvent(t, bob.c, wire.TypeCallMode, 5*time.Second); m.Call.Mode != "video" {
		t.Fatalf("bob saw mode %q", m.Call.Mode)
	}
	alice.stopMedia()
	alice.addVideoTrack()
	if _, err := alice.c.AddTracks(ctx, alice.publishOptions(), alice.vt); err != nil {
		t.Fatalf("add video after the switch: %v", err)
	}
	alice.startPacing()
	bob.receivesMore(true)
}

func isCode(err error, code string) bool {
	var we *wire.Error
	return errors.As(err, &we) && we.Code == code
}

func TestCallOutcomes(t *testing.T) {
	e := newEnv(t, callerTweak)
	alice, bob, carol := e.connect("alice"), e.connect("bob"), e.connect("carol")
	ctx, cancel := callCtx()
	defer cancel()

	t.Run("declined", func(t *testing.T) {
		out := alice.invite("bob", "voice")
		in := bob.ringing()
		if _, err := bob.c.Decline(ctx, in.ID); err != nil {
			t.Fatal(err)
		}
		if got := alice.ended(out.ID); got.ID != out.ID || got.Outcome != "declined" {
			t.Errorf("alice saw %+v, want declined", got)
		}
		bob.ended(in.ID)
	})
	t.Run("cancelled", func(t *testing.T) {
		out := alice.invite("bob", "video")
		bob.ringing()
		got, err := alice.c.Cancel(ctx, out.ID)
		if err != nil || got.Outcome != "cancelled" {
			t.Fatalf("cancel: %+v %v", got, err)
		}
		if got := bob.ended(out.ID); got.Outcome != "cancelled" {
			t.Errorf("bob saw %+v, want cancelled", got)
		}
		// Accepting the cancelled call is refused clearly.
		if _, err := bob.c.Accept(ctx, out.ID); !isCode(err, wire.CodeNoSuchCall) {
			t.Errorf("accept after cancel: %v, want no_such_call", err)
		}
	})
	t.Run("no_answer", func(t *testing.T) {
		start := time.Now()
		out := alice.invite("bob", "voice")
		bob.ringing()
		got := alice.ended(out.ID)
		if got.Outcome != "no_answer" {
			t.Errorf("got %+v, want no_answer", got)
		}
		if d := time.Since(start); d < time.Second {
			t.Errorf("no_answer after %v: before the 2 s ring time-out", d)
		}
		bob.ended(out.ID)
	})
	t.Run("busy", func(t *testing.T) {
		out := alice.invite("bob", "voice")
		bob.accept(bob.ringing().ID)
		if got := carol.invite("bob", "voice"); got.State != wire.CallEnded || got.Outcome != "busy" {
			t.Errorf("calling a user in a call: %+v, want busy", got)
		}
		if got := carol.invite("alice", "voice"); got.Outcome != "busy" {
			t.Errorf("calling the caller in a call: %+v, want busy", got)
		}
		// A device in a call cannot place another.
		if _, err := alice.c.Invite(ctx, "carol", "voice"); !isCode(err, wire.CodeInCall) {
			t.Errorf("invite from a call: %v, want in_call", err)
		}
		if _, err := bob.c.Hangup(ctx, out.ID); err != nil {
			t.Fatal(err)
		}
		alice.ended(out.ID)
	})
	t.Run("unavailable_offline", func(t *testing.T) {
		dave := e.connect("dave") // dave exists...
		dave.c.Close()            // ...but is offline
		waitFor(t, 5*time.Second, "dave offline", func() bool {
			c, err := alice.c.Invite(ctx, "dave", "voice")
			return err == nil && c.Outcome == "unavailable" && c.Reason == "offline"
		})
	})
	t.Run("bad_requests", func(t *testing.T) {
		for _, tc := range []struct {
			callee, mode, code string
		}{
			{"alice", "voice", wire.CodeInvalidCallee},
			{"", "voice", wire.CodeInvalidCallee},
			{"nobody-ever", "voice", wire.CodeUnknownUser},
			{"bob", "hologram", wire.CodeBadMessage},
		} {
			if _, err := alice.c.Invite(ctx, tc.callee, tc.mode); !isCode(err, tc.code) {
				t.Errorf("invite %q in %q: %v, want %s", tc.callee, tc.mode, err, tc.code)
			}
		}
		if _, err := bob.c.Accept(ctx, "CA_nope"); !isCode(err, wire.CodeNoSuchCall) {
			t.Errorf("accept unknown call: %v", err)
		}
		// Callers may not join live rooms, nor viewers ring anyone.
		v := e.join("someroom", "viewer1", auth.RoleViewer, nil)
		if err := v.Send(wire.Message{Type: wire.TypeCallInvite, ID: "x", Callee: "bob", Mode: "voice"}); err != nil {
			t.Fatal(err)
		}
		if m := nextEvent(t, v, wire.TypeError, 5*time.Second); m.Error.Code != wire.CodeForbidden {
			t.Errorf("viewer invite: %+v", m.Error)
		}
	})
	t.Run("flooding_one_callee", func(t *testing.T) {
		limited := false
		for i := 0; i < 10 && !limited; i++ {
			c, err := carol.c.Invite(ctx, "bob", "voice")
			switch {
			case isCode(err, wire.CodeRateLimited):
				limited = true
			case err != nil:
				t.Fatal(err)
			case c.State == wire.CallRinging:
				if _, err := carol.c.Cancel(ctx, c.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
		if !limited {
			t.Error("10 invitations to one callee at once were all let through")
		}
	})
}

func TestCallTwoDevicesOneAnswers(t *testing.T) {
	e := newEnv(t, callerTweak)
	alice := e.connect("alice")
	phone1, phone2 := e.connect("bob"), e.connect("bob")
	out := alice.invite("bob", "voice")
	in1, in2 := phone1.ringing(), phone2.ringing()
	if in1.ID != out.ID || in2.ID != out.ID {
		t.Fatalf("devices rang for %s and %s, want %s", in1.ID, in2.ID, out.ID)
	}
	phone2.accept(out.ID)
	if got := phone1.ended(out.ID); got.Reason != "answered_elsewhere" {
		t.Errorf("the other device got %+v, want answered_elsewhere", got)
	}
	// A double accept loses clearly.
	ctx, cancel := callCtx()
	defer cancel()
	if _, err := phone1.c.Accept(ctx, out.ID); !isCode(err, wire.CodeAlreadyAnswered) {
		t.Errorf("second accept: %v, want already_answered", err)
	}
	nextEvent(t, alice.c, wire.TypeCallAccepted, 5*time.Second)
	alice.publish(false)
	phone2.publish(false)
	alice.receivesMore(false)
	phone2.receivesMore(false)
	if _, a := phone1.rec.counts(); a != 0 {
		t.Errorf("the device that did not answer received %d packets", a)
	}
}

func TestCallOutsideAvailableHours(t *testing.T) {
	e := newEnv(t, callerTweak)
	alice, bob := e.connect("alice"), e.connect("bob")
	// bob is available for the hour twelve hours from now, and takes no video.
	from := time.Now().UTC().Add(12 * time.Hour)
	settings := map[string]any{
		"time_zone": "UTC", "available_from": from.Format("15:04"), "available_to": from.Add(time.Hour).Format("15:04"),
		"accept": []string{"chat", "voice"},
	}
	body, err := json.Marshal(settings)
	if err != nil {
		t.Fatal(err)
	}
	if code, resp := putSettings(t, e.url+"/v1/users/bob/settings", e.token("", "bob", auth.RoleCaller), string(body)); code != 200 {
		t.Fatalf("put settings: %d %s", code, resp)
	}
	got := alice.invite("bob", "voice")
	if got.Outcome != "unavailable" || got.Reason != "outside_hours" {
		t.Errorf("call outside hours: %+v", got)
	}
	got = alice.invite("bob", "video")
	if got.Outcome != "unavailable" || got.Reason != "mode_not_accepted" {
		t.Errorf("video call to a voice-only user: %+v", got)
	}
	// bob was not disturbed.
	select {
	case m := <-bob.c.Events():
		if m.Type == wire.TypeCallRinging {
			t.Errorf("bob rang: %+v", m.Call)
		}
	case <-time.After(300 * time.Millisecond):
	}
}

func TestCallReconnectWithinGrace(t *testing.T) {
	e := newEnv(t, callerTweak)
	alice, bob := e.connect("alice"), e.connect("bob")
	c := e.talk(alice, bob, "video")
	alice.receivesMore(true)
	// bob's connection drops; alice is told and waits.
	bob.stopMedia()
	bob.c.Close()
	if m := nextEvent(t, alice.c, wire.TypeCallReconnecting, 5*time.Second); m.Call.ID != c.ID {
		t.Fatalf("reconnecting for %s", m.Call.ID)
	}
	bob2 := e.connect("bob")
	if m := nextEvent(t, bob2.c, wire.TypeCallResumed, 5*time.Second); m.Call.ID != c.ID {
		t.Fatalf("bob resumed %s", m.Call.ID)
	}
	nextEvent(t, alice.c, wire.TypeCallResumed, 5*time.Second)
	bob2.publish(true)
	alice.receivesMore(true)
	bob2.receivesMore(true)

	// Past the grace the call ends for the one left.
	bob2.stopMedia()
	bob2.c.Close()
	got := alice.ended(c.ID)
	if got.Reason != "dropped" {
		t.Errorf("after the grace: %+v, want reason dropped", got)
	}
}

// Each sender gets feedback to adapt: transport-wide congestion feedback on its
// uplink from the SFU, and the receiver's bandwidth estimate (REMB) relayed from
// the other side of the call.
func TestCallBandwidthFeedbackReachesSender(t *testing.T) {
	e := newEnv(t, callerTweak)
	alice, bob := e.connect("alice"), e.connect("bob")
	var twcc, remb atomic.Int64
	var lastREMB atomic.Uint64
	alice.onRTCP = func(_ webrtc.TrackLocal, p rtcp.Packet) {
		switch p := p.(type) {
		case *rtcp.TransportLayerCC:
			twcc.Add(1)
		case *rtcp.ReceiverEstimatedMaximumBitrate:
			remb.Add(1)
			lastREMB.Store(uint64(p.Bitrate))
		}
	}
	e.talk(alice, bob, "video")
	bob.receivesMore(true)
	waitFor(t, 5*time.Second, "TWCC feedback at alice's publisher", func() bool { return twcc.Load() > 0 })

	video, _ := bob.rec.snapshot()
	est := &rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: 250_000, SSRCs: []uint32{video[0].ssrc}}
	waitFor(t, 5*time.Second, "bob's REMB relayed to alice", func() bool {
		if err := bob.c.Subscriber().WriteRTCP([]rtcp.Packet{est}); err != nil {
			t.Fatal(err)
		}
		return remb.Load() > 0
	})
	if got := lastREMB.Load(); got != 250_000 {
		t.Errorf("alice got an estimate of %d bps, want bob's 250000", got)
	}
}

// A call has the rooms' chat (same channel, same moderation) and mute: turning
// the camera off tells the other side whose camera it was and stops its video.
func TestCallChatAndMute(t *testing.T) {
	e := newEnv(t, callerTweak, func(c *server.Config) { c.ChatBlockedWords = []string{"spoiler"} })
	alice, bob := e.connect("alice"), e.connect("bob")
	e.talk(alice, bob, "video")
	ca, cb := newChatter(t, alice.c), newChatter(t, bob.c)
	ca.send(t, map[string]any{"type": "send", "id": "1", "text": "can you see me?"})
	cb.send(t, map[string]any{"type": "send", "id": "2", "text": "a big spoiler"})
	waitFor(t, 5*time.Second, "bob reads alice", func() bool {
		m := cb.messages()
		return len(m) == 1 && m[0].From == "alice" && m[0].Text == "can you see me?"
	})
	waitFor(t, 5*time.Second, "moderation in calls", func() bool {
		f, ok := cb.find("error", "2")
		return ok && f.Error != nil && f.Error.Code == "blocked_word"
	})
	if n := len(ca.messages()); n != 1 {
		t.Errorf("alice has %d messages, want her own only", n)
	}

	bob.receivesMore(true)
	if err := alice.c.SetMuted("video", true); err != nil {
		t.Fatal(err)
	}
	m := nextEvent(t, bob.c, wire.TypeTrackMuted, 5*time.Second)
	if m.Identity != "alice" || m.Kind != "video" || m.Muted == nil || !*m.Muted {
		t.Fatalf("bob saw %+v, want alice's video muted", m)
	}
	time.Sleep(200 * time.Millisecond) // packets in flight
	v0, a0 := bob.rec.counts()
	time.Sleep(500 * time.Millisecond)
	v1, a1 := bob.rec.counts()
	if v1 != v0 {
		t.Errorf("%d video packets after the camera went off", v1-v0)
	}
	if a1 <= a0 {
		t.Error("audio stopped with the camera")
	}
}
