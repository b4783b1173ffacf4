package whip_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/client/synth"
	"github.com/talkrelay/talkrelay/server"
	"github.com/talkrelay/talkrelay/server/servertest"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// A host publishes over WHIP; a WHEP viewer and a WebSocket viewer both
// receive its media and both count as viewers; DELETE of the WHEP session
// takes the viewer away and DELETE of the WHIP session ends the live.
func TestWHIPToWHEPAndWebSocket(t *testing.T) {
	n := startNode(t, func(c *server.Config) {
		c.ICEServers = []wire.ICEServer{
			{URLs: []string{"stun:stun.example.net"}},
			{URLs: []string{"turn:turn.example.net?transport=udp"}, Username: "u", Credential: `p"w`},
		}
	})
	pub, offer := n.newPublisher()
	res := n.request("POST", "/whip/demo", n.token("demo", "alice", auth.RoleHost), "application/sdp", offer)
	answer := wantStatus(t, res, http.StatusCreated)
	if !strings.HasPrefix(answer, "v=0\r\n") {
		t.Fatalf("answer does not start with v=0: %q", answer[:min(len(answer), 20)])
	}
	if !strings.Contains(answer, "a=candidate:") {
		t.Fatal("answer carries no candidates")
	}
	h := res.Header
	if got := h.Get("Content-Type"); got != "application/sdp" {
		t.Fatalf("Content-Type %q", got)
	}
	if loc := h.Get("Location"); !strings.HasPrefix(loc, "/whip/demo/") {
		t.Fatalf("Location %q", loc)
	}
	if etag := h.Get("ETag"); len(etag) < 3 || etag[0] != '"' {
		t.Fatalf("ETag %q is not a strong entity tag", etag)
	}
	if got := h.Get("Accept-Patch"); got != "application/trickle-ice-sdpfrag" {
		t.Fatalf("Accept-Patch %q", got)
	}
	links := h.Values("Link")
	wantLinks := []string{
		`<stun:stun.example.net>; rel="ice-server"`,
		`<turn:turn.example.net?transport=udp>; rel="ice-server"; username="u"; credential="p\"w"; credential-type="password"`,
	}
	if strings.Join(links, "\n") != strings.Join(wantLinks, "\n") {
		t.Fatalf("Link headers %q, want %q", links, wantLinks)
	}
	if h.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(h.Get("Access-Control-Expose-Headers"), "Location") {
		t.Fatalf("CORS headers missing: %v", h)
	}
	wantStatus(t, n.request("DELETE", h.Get("Location"), n.token("demo", "alice", auth.RoleHost), "", ""), http.StatusOK)

	// Publish for real.
	_ = pub
	p := n.publish("demo", "alice")
	servertest.WaitFor(t, 10*time.Second, "the live started", func() bool {
		info, ok := n.Rooms().Room("demo")
		return ok && info.Live != nil
	})
	ws := joinViewer(t, n, "demo", "bob")
	v := n.watch("demo", "carol")
	v.receives(t, "WHEP viewer receives video and audio")
	servertest.WaitFor(t, 5*time.Second, "viewer count 2 (WHEP + WebSocket)", func() bool { return n.viewers("demo") == 2 })
	servertest.WaitFor(t, 5*time.Second, "WebSocket viewer told 2", func() bool { return lastCount(ws) == 2 })

	wantStatus(t, n.request("DELETE", v.resource, n.token("demo", "carol", auth.RoleViewer), "", ""), http.StatusOK)
	servertest.WaitFor(t, 5*time.Second, "viewer count 1", func() bool { return n.viewers("demo") == 1 })
	wantStatus(t, n.request("DELETE", v.resource, n.token("demo", "carol", auth.RoleViewer), "", ""), http.StatusNotFound)

	wantStatus(t, n.request("DELETE", p.resource, n.token("demo", "alice", auth.RoleHost), "", ""), http.StatusOK)
	ended := nextEvent(t, ws, wire.TypeLiveEnded)
	if ended.Live.EndReason != wire.EndHostEnded {
		t.Fatalf("live ended with %q, want %q", ended.Live.EndReason, wire.EndHostEnded)
	}
	lives, err := n.Rooms().Lives().Lives(context.Background(), "demo")
	if err != nil || len(lives) != 1 || lives[0].EndReason != wire.EndHostEnded {
		t.Fatalf("live records %+v (%v)", lives, err)
	}
	if n.Node.Server.WHIPSessions() != 0 {
		t.Fatalf("%d WHIP/WHEP sessions left", n.Node.Server.WHIPSessions())
	}
}

// joinViewer joins a WebSocket viewer whose subscriber answers as the SDK does.
func joinViewer(t *testing.T, n *node, room, identity string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Join(ctx, client.Config{URL: n.URL, Token: n.token(room, identity, auth.RoleViewer), API: n.api})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// lastCount drains c's events and returns the last viewer count it heard.
func lastCount(c *client.Client) int {
	n := -1
	for {
		select {
		case m := <-c.Events():
			if m.Type == wire.TypeViewerCount && m.Count != nil {
				n = *m.Count
			}
		default:
			if n < 0 {
				return c.Joined().ViewerCount
			}
			return n
		}
	}
}

func nextEvent(t *testing.T, c *client.Client, typ string) wire.Message {
	t.Helper()
	return servertest.NextEvent(t, c, typ, 10*time.Second)
}

// WHEP before the live: 409 with Retry-After, and no viewer joins; once the
// host is live the same offer is accepted.
func TestWHEPWaitsForLive(t *testing.T) {
	n := startNode(t)
	_, offer := n.newViewer(nil)
	res := n.request("POST", "/whep/demo", n.token("demo", "carol", auth.RoleViewer), "application/sdp", offer)
	wantStatus(t, res, http.StatusConflict)
	if res.Header.Get("Retry-After") == "" {
		t.Fatal("409 without Retry-After")
	}
	if _, open := n.Rooms().Room("demo"); open {
		t.Fatal("a refused WHEP viewer left a room open")
	}
	n.publish("demo", "alice")
	servertest.WaitFor(t, 10*time.Second, "the live started", func() bool {
		info, ok := n.Rooms().Room("demo")
		return ok && info.Live != nil
	})
	v := n.watch("demo", "carol")
	v.receives(t, "WHEP viewer receives")
}

// A WHEP session ends with its live: its resource is gone and it no longer
// counts.
func TestWHEPEndsWithTheLive(t *testing.T) {
	n := startNode(t)
	p := n.publish("demo", "alice")
	servertest.WaitFor(t, 10*time.Second, "the live started", func() bool {
		info, ok := n.Rooms().Room("demo")
		return ok && info.Live != nil
	})
	v := n.watch("demo", "carol")
	v.receives(t, "WHEP viewer receives")
	wantStatus(t, n.request("DELETE", p.resource, n.token("demo", "alice", auth.RoleHost), "", ""), http.StatusOK)
	servertest.WaitFor(t, 5*time.Second, "WHEP session gone", func() bool { return n.Node.Server.WHIPSessions() == 0 })
	wantStatus(t, n.request("DELETE", v.resource, n.token("demo", "carol", auth.RoleViewer), "", ""), http.StatusNotFound)
	servertest.WaitFor(t, 5*time.Second, "WHEP viewer's connection closed", func() bool {
		st := v.pc.ConnectionState()
		return st != webrtc.PeerConnectionStateConnected
	})
}

// Sessions without a working media connection end by themselves: a WHEP
// viewer that never connects stops counting, and a WHIP host that vanished
// gives its live the host grace, as a dropped WebSocket host does.
func TestSessionsWithoutMediaEnd(t *testing.T) {
	n := startNode(t, func(c *server.Config) {
		c.WHIPSessionTimeout = 500 * time.Millisecond
		c.HostGrace = 500 * time.Millisecond
	})
	p := n.publish("demo", "alice")
	servertest.WaitFor(t, 10*time.Second, "the live started", func() bool {
		info, ok := n.Rooms().Room("demo")
		return ok && info.Live != nil
	})
	// A viewer that posts its offer and never connects.
	_, offer := n.newViewer(nil)
	wantStatus(t, n.request("POST", "/whep/demo", n.token("demo", "ghost", auth.RoleViewer), "application/sdp", offer), http.StatusCreated)
	if got := n.viewers("demo"); got != 1 {
		t.Fatalf("viewers %d, want 1", got)
	}
	servertest.WaitFor(t, 5*time.Second, "the unconnected WHEP viewer left", func() bool { return n.viewers("demo") == 0 })

	// The host's client disappears without DELETE.
	p.stop()
	_ = p.pc.Close()
	servertest.WaitFor(t, 15*time.Second, "the live ended after the host grace", func() bool {
		lives, _ := n.Rooms().Lives().Lives(context.Background(), "demo")
		return len(lives) == 1
	})
	lives, _ := n.Rooms().Lives().Lives(context.Background(), "demo")
	if lives[0].EndReason != wire.EndHostLeft {
		t.Fatalf("end reason %q, want %q", lives[0].EndReason, wire.EndHostLeft)
	}
	servertest.WaitFor(t, 5*time.Second, "no sessions left", func() bool { return n.Node.Server.WHIPSessions() == 0 })
}

// A WHEP viewer who arrives while the live has only its audio gets the video
// as soon as the host adds it: its offer's video transceiver was answered
// sendonly and the new feed takes it over, with no new offer.
func TestWHEPGetsALateTrack(t *testing.T) {
	n := startNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	host, err := client.Join(ctx, client.Config{URL: n.URL, Token: n.token("demo", "alice", auth.RoleHost), API: n.api})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Close() })
	p := &publisher{video: synth.NewVideo(synth.VideoConfig{Bitrate: 300_000, Width: 320, Height: 240})}
	p.vt, _ = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "cam")
	p.at, _ = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "cam")
	if _, err := host.Publish(ctx, client.PublishOptions{}, p.at); err != nil {
		t.Fatal(err)
	}
	servertest.WaitFor(t, 10*time.Second, "publisher connected", func() bool {
		return host.Publisher().ConnectionState() == webrtc.PeerConnectionStateConnected
	})
	stop := make(chan struct{})
	paced := make(chan struct{})
	// Pacer: owned by the test, ends when stop closes.
	go func() {
		defer close(paced)
		audio := synth.NewAudio(synth.AudioConfig{})
		video := time.NewTicker(66 * time.Millisecond)
		defer video.Stop()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				_ = p.at.WriteRTP(audio.NextPacket())
			case <-video.C:
				for _, pk := range p.video.NextFrame() {
					_ = p.vt.WriteRTP(pk)
				}
			}
		}
	}()
	defer func() { close(stop); <-paced }()
	servertest.WaitFor(t, 10*time.Second, "the live started", func() bool {
		info, ok := n.Rooms().Room("demo")
		return ok && info.Live != nil
	})
	v := n.watch("demo", "carol")
	servertest.WaitFor(t, 10*time.Second, "audio at the WHEP viewer", func() bool { return v.audio.Load() > 20 })
	if v.video.Load() != 0 {
		t.Fatal("video before there was any")
	}
	if _, err := host.AddTracks(ctx, client.PublishOptions{OnKeyframeRequest: func(webrtc.TrackLocal) { p.video.RequestKeyframe() }}, p.vt); err != nil {
		t.Fatal(err)
	}
	v.receives(t, "the late video reaches the WHEP viewer")
}
