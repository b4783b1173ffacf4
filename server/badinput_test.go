package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/server"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// raw is a bare WebSocket to the server, for sending what no SDK would.
type raw struct {
	t  *testing.T
	ws *websocket.Conn
}

func (e *env) raw() *raw {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, strings.Replace(e.url, "http://", "ws://", 1)+"/ws", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	ws.SetReadLimit(1 << 20)
	e.t.Cleanup(func() { ws.CloseNow() })
	return &raw{t: e.t, ws: ws}
}

func (r *raw) send(s string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.ws.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

func (r *raw) sendJSON(m wire.Message) {
	r.t.Helper()
	b, _ := json.Marshal(m)
	r.send(string(b))
}

// nextAny reads the next message, whatever its type.
func (r *raw) nextAny() wire.Message {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := r.ws.Read(ctx)
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	var m wire.Message
	if err := json.Unmarshal(b, &m); err != nil {
		r.t.Fatalf("server sent invalid JSON %q", b)
	}
	return m
}

// next reads messages until one of type typ.
func (r *raw) next(typ string) wire.Message {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		_, b, err := r.ws.Read(ctx)
		if err != nil {
			r.t.Fatalf("waiting for %s: %v", typ, err)
		}
		var m wire.Message
		if err := json.Unmarshal(b, &m); err != nil {
			r.t.Fatalf("server sent invalid JSON %q", b)
		}
		if m.Type == typ {
			return m
		}
	}
}

// expectError reads the next error and checks its code; a fatal one must be
// followed by the server closing the connection.
func (r *raw) expectError(code string, fatal bool) {
	r.t.Helper()
	m := r.next(wire.TypeError)
	if m.Error == nil || m.Error.Code != code || m.Error.Fatal != fatal || m.Error.Message == "" {
		r.t.Fatalf("error = %+v, want code %s fatal %v with a message", m.Error, code, fatal)
	}
	if fatal {
		r.expectClosed()
	} else {
		r.sendJSON(wire.Message{Type: wire.TypePing, ID: "alive"})
		if p := r.next(wire.TypePong); p.ID != "alive" {
			r.t.Fatalf("pong id %q", p.ID)
		}
	}
}

// expectErrorThenJoin checks a non-fatal error before join, then that joining still works.
func (r *raw) expectErrorThenJoin(code, tok string) {
	r.t.Helper()
	m := r.next(wire.TypeError)
	if m.Error == nil || m.Error.Code != code || m.Error.Fatal {
		r.t.Fatalf("error = %+v, want non-fatal %s", m.Error, code)
	}
	r.join(tok)
}

func (r *raw) expectClosed() {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		if _, _, err := r.ws.Read(ctx); err != nil {
			if ctx.Err() != nil {
				r.t.Fatal("server did not close the connection")
			}
			return
		}
	}
}

func (r *raw) join(tok string) {
	r.t.Helper()
	r.sendJSON(wire.Message{Type: wire.TypeJoin, Token: tok})
	r.next(wire.TypeJoined)
}

// pionOffer returns a real offer with the given codecs' transceivers.
func pionOffer(t *testing.T, withMedia bool) string {
	t.Helper()
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if withMedia {
		for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
			if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
				t.Fatal(err)
			}
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return offer.SDP
}

// Every kind of bad input gets a clear error with a code, never crashes the
// server, and never disturbs a live running meanwhile in the same room.
func TestBadInput(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.JoinTimeout = 2 * time.Second })
	healthy := &recorder{}
	e.join("safe", "watcher", auth.RoleViewer, healthy.onTrack)
	h := e.startHost("safe", "host", hostOptions{})
	waitFor(t, 5*time.Second, "healthy viewer media", func() bool { v, _ := healthy.counts(); return v > 20 })

	other, _ := mintWith(t, strings.Repeat("k", 40)).Mint(auth.Grant{Identity: "x", Room: "safe", Role: auth.RoleViewer}, time.Hour)
	expired, _ := e.node.Minter.Mint(auth.Grant{Identity: "x", Room: "safe", Role: auth.RoleViewer}, -time.Minute)
	viewerTok := func(id string) string { return e.token("safe", id, auth.RoleViewer) }
	goodOffer := pionOffer(t, true)
	pcmuOnly := "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\na=rtpmap:0 PCMU/8000\r\n"

	cases := []struct {
		name string
		run  func(r *raw)
	}{
		{"request before join", func(r *raw) {
			r.sendJSON(wire.Message{Type: wire.TypeOffer, SDP: goodOffer})
			r.expectErrorThenJoin(wire.CodeNotJoined, viewerTok("early"))
		}},
		{"malformed JSON before join", func(r *raw) { r.send("{nope"); r.expectErrorThenJoin(wire.CodeBadMessage, viewerTok("early2")) }},
		{"missing token", func(r *raw) { r.send(`{"type":"join"}`); r.expectError(wire.CodeUnauthorized, true) }},
		{"garbage token", func(r *raw) { r.send(`{"type":"join","token":"a.b.c"}`); r.expectError(wire.CodeUnauthorized, true) }},
		{"wrong signature", func(r *raw) {
			r.sendJSON(wire.Message{Type: wire.TypeJoin, Token: other})
			r.expectError(wire.CodeUnauthorized, true)
		}},
		{"expired token", func(r *raw) {
			r.sendJSON(wire.Message{Type: wire.TypeJoin, Token: expired})
			r.expectError(wire.CodeTokenExpired, true)
		}},
		{"token for another room", func(r *raw) {
			r.sendJSON(wire.Message{Type: wire.TypeJoin, Token: viewerTok("w"), Room: "elsewhere"})
			r.expectError(wire.CodeWrongRoom, true)
		}},
		{"no join in time", func(r *raw) { r.expectError(wire.CodeHandshakeTimeout, true) }},
		{"oversized frame", func(r *raw) {
			r.join(viewerTok("big"))
			r.send(`{"type":"ping","id":"` + strings.Repeat("x", wire.MaxMessageBytes) + `"}`)
			r.expectError(wire.CodeTooLarge, true)
		}},
		{"binary frame", func(r *raw) {
			r.join(viewerTok("bin"))
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = r.ws.Write(ctx, websocket.MessageBinary, []byte{1, 2, 3})
			r.expectError(wire.CodeBadMessage, false)
		}},
		{"malformed JSON", func(r *raw) { r.join(viewerTok("j")); r.send(`{"type":`); r.expectError(wire.CodeBadMessage, false) }},
		{"wrong field type", func(r *raw) {
			r.join(viewerTok("f"))
			r.send(`{"type":"mute","muted":"yes"}`)
			r.expectError(wire.CodeBadMessage, false)
		}},
		{"unknown type", func(r *raw) {
			r.join(viewerTok("u"))
			r.send(`{"type":"teleport"}`)
			r.expectError(wire.CodeUnknownType, false)
		}},
		{"second join", func(r *raw) {
			r.join(viewerTok("twice"))
			r.sendJSON(wire.Message{Type: wire.TypeJoin, Token: viewerTok("twice")})
			r.expectError(wire.CodeAlreadyJoined, false)
		}},
		{"viewer publishes", func(r *raw) {
			r.join(viewerTok("pub"))
			r.sendJSON(wire.Message{Type: wire.TypeOffer, ID: "o1", SDP: goodOffer})
			if m := r.next(wire.TypeError); m.ID != "o1" || m.Error.Code != wire.CodeForbidden {
				t.Fatalf("error = %+v id %q", m.Error, m.ID)
			}
		}},
		{"viewer mutes", func(r *raw) {
			r.join(viewerTok("m"))
			r.sendJSON(wire.Message{Type: wire.TypeMute, Kind: "video", Muted: wire.Bool(true)})
			r.expectError(wire.CodeForbidden, false)
		}},
		{"viewer ends live", func(r *raw) {
			r.join(viewerTok("e"))
			r.send(`{"type":"end_live"}`)
			r.expectError(wire.CodeForbidden, false)
		}},
		{"candidate for unknown session", func(r *raw) {
			r.join(viewerTok("c"))
			r.sendJSON(wire.Message{Type: wire.TypeCandidate, Target: wire.TargetPublisher, Candidate: &wire.Candidate{Candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host"}})
			r.expectError(wire.CodeNoSession, false)
		}},
		{"candidate with bad target", func(r *raw) {
			r.join(viewerTok("ct"))
			r.sendJSON(wire.Message{Type: wire.TypeCandidate, Target: "sideways", Candidate: &wire.Candidate{Candidate: "x"}})
			r.expectError(wire.CodeBadCandidate, false)
		}},
		{"garbage answer", func(r *raw) {
			r.join(viewerTok("ga"))
			r.next(wire.TypeOffer) // the server offers chat (and the live's tracks)
			r.sendJSON(wire.Message{Type: wire.TypeAnswer, SDP: "v=0"})
			r.expectError(wire.CodeBadSDP, false)
		}},
		{"garbage SDP", func(r *raw) {
			r.join(e.token("bad-host", "h1", auth.RoleHost))
			r.sendJSON(wire.Message{Type: wire.TypeOffer, SDP: "this is not sdp"})
			r.expectError(wire.CodeBadSDP, false)
		}},
		{"no usable codec", func(r *raw) {
			r.join(e.token("bad-host2", "h2", auth.RoleHost))
			r.sendJSON(wire.Message{Type: wire.TypeOffer, SDP: pcmuOnly})
			r.expectError(wire.CodeNoUsableCodec, false)
		}},
		{"offer with no media", func(r *raw) {
			r.join(e.token("bad-host3", "h3", auth.RoleHost))
			r.sendJSON(wire.Message{Type: wire.TypeOffer, SDP: pionOffer(t, false)})
			r.expectError(wire.CodeNoUsableCodec, false)
		}},
		{"garbage candidate", func(r *raw) {
			r.join(e.token("bad-host4", "h4", auth.RoleHost))
			r.sendJSON(wire.Message{Type: wire.TypeOffer, SDP: goodOffer})
			r.next(wire.TypeAnswer)
			r.sendJSON(wire.Message{Type: wire.TypeCandidate, Target: wire.TargetPublisher, Candidate: &wire.Candidate{Candidate: "candidate:garbage"}})
			r.expectError(wire.CodeBadCandidate, false)
		}},
		{"mute of unknown kind", func(r *raw) {
			r.join(e.token("bad-host5", "h5", auth.RoleHost))
			r.sendJSON(wire.Message{Type: wire.TypeMute, Kind: "smell", Muted: wire.Bool(true)})
			r.expectError(wire.CodeBadMessage, false)
		}},
		{"end with no live", func(r *raw) {
			r.join(e.token("bad-host6", "h6", auth.RoleHost))
			r.send(`{"type":"end_live"}`)
			r.expectError(wire.CodeNotLive, false)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.raw()
			r.t = t
			c.run(r)
		})
	}

	// The live in the same room went on untouched.
	before, _ := healthy.counts()
	waitFor(t, 5*time.Second, "healthy viewer still receiving", func() bool { v, _ := healthy.counts(); return v > before+20 })
	h.stop()
	video, audio := healthy.snapshot()
	checkContinuous(t, "healthy viewer video", video)
	checkContinuous(t, "healthy viewer audio", audio)
	getJSON(t, e.url+"/healthz", "", 200, nil)
}

func mintWith(t *testing.T, secret string) *auth.Minter {
	t.Helper()
	m, err := auth.NewMinter(auth.DevAPIKey, secret)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A connection that says nothing after joining is closed as idle; a client that
// pings is kept.
func TestIdleTimeout(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.IdleTimeout = time.Second })
	silent := e.raw()
	silent.join(e.token("idle", "silent", auth.RoleViewer))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lively, err := client.Join(ctx, client.Config{
		URL: e.url, Token: e.token("idle", "lively", auth.RoleViewer), API: e.api, KeepaliveInterval: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer lively.Close()

	silent.expectError(wire.CodeIdleTimeout, true)
	time.Sleep(1500 * time.Millisecond)
	select {
	case <-lively.Done():
		t.Fatalf("pinging client was closed: %v", lively.Err())
	default:
	}
}

// A full room refuses joins with server_full.
func TestRoomFull(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.MaxParticipants = 2 })
	e.join("full", "host", auth.RoleHost, nil)
	e.join("full", "v1", auth.RoleViewer, nil)
	_, err := joinErr(e, "full", "v2", auth.RoleViewer)
	var we *wire.Error
	if !asWireError(err, &we) || we.Code != wire.CodeServerFull {
		t.Fatalf("third join: %v, want %s", err, wire.CodeServerFull)
	}
	e.join("other", "v2", auth.RoleViewer, nil) // another room still has space
}

// A client that floods signaling gets its excess dropped with one error, stays
// connected while it slows down, and is disconnected if it keeps flooding.
func TestSignalingFlood(t *testing.T) {
	e := newEnv(t)
	r := e.raw()
	r.join(e.token("flood", "noisy", auth.RoleViewer))
	for i := 0; i < 400; i++ { // burst 200, then over the rate
		r.sendJSON(wire.Message{Type: wire.TypePing, ID: fmt.Sprint(i)})
	}
	m := r.next(wire.TypeError)
	if m.Error == nil || m.Error.Code != wire.CodeRateLimited || m.Error.Fatal {
		t.Fatalf("error = %+v, want non-fatal %s", m.Error, wire.CodeRateLimited)
	}
	time.Sleep(time.Second) // slowing down is enough to be heard again
	r.sendJSON(wire.Message{Type: wire.TypePing, ID: "later"})
	for {
		if p := r.next(wire.TypePong); p.ID == "later" {
			break
		}
	}

	flooder := e.raw()
	flooder.join(e.token("flood", "flooder", auth.RoleViewer))
	for i := 0; i < 1000; i++ {
		flooder.sendJSON(wire.Message{Type: wire.TypePing})
	}
	for {
		m := flooder.next(wire.TypeError)
		if m.Error.Fatal {
			if m.Error.Code != wire.CodeRateLimited {
				t.Fatalf("fatal error %+v, want %s", m.Error, wire.CodeRateLimited)
			}
			break
		}
	}
	flooder.expectClosed()
}

// The node's viewer capacity holds across rooms; a viewer leaving frees a
// place, and hosts are not counted.
func TestNodeViewerCapacity(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.MaxViewers = 2 })
	e.join("a", "v1", auth.RoleViewer, nil)
	v2 := e.join("b", "v2", auth.RoleViewer, nil)
	_, err := joinErr(e, "a", "v3", auth.RoleViewer)
	var we *wire.Error
	if !asWireError(err, &we) || we.Code != wire.CodeServerFull {
		t.Fatalf("third viewer on the node: %v, want %s", err, wire.CodeServerFull)
	}
	e.join("a", "host", auth.RoleHost, nil)
	if err := v2.Leave(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "a place freed", func() bool {
		c, err := joinErr(e, "a", "v3", auth.RoleViewer)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}
