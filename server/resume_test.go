package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/server"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// network stands between a client and the server's HTTP listener: while it
// is down, the client's WebSocket dials fail (its media is not affected).
type network struct{ down atomic.Bool }

func (n *network) RoundTrip(r *http.Request) (*http.Response, error) {
	if n.down.Load() {
		return nil, errors.New("test network is down")
	}
	return http.DefaultTransport.RoundTrip(r)
}

// resumeVia makes a client resume dropped signaling, dialing through n.
func resumeVia(n *network) func(*client.Config) {
	return func(c *client.Config) {
		c.Resume = true
		c.ReconnectTimeout = 10 * time.Second
		c.Dialer = &websocket.DialOptions{HTTPClient: &http.Client{Transport: n}}
	}
}

// eventLog keeps every event of a client, read in the background.
type eventLog struct {
	mu   sync.Mutex
	msgs []wire.Message
}

func watchEvents(c *client.Client) *eventLog {
	l := &eventLog{}
	// Reader: owned by the test, ends when the client ends and closes Events.
	go func() {
		for m := range c.Events() {
			l.mu.Lock()
			l.msgs = append(l.msgs, m)
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *eventLog) all() []wire.Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]wire.Message(nil), l.msgs...)
}

// of returns the events of type typ, with their places in the whole log.
func (l *eventLog) of(typ string) (msgs []wire.Message, at []int) {
	for i, m := range l.all() {
		if m.Type == typ {
			msgs, at = append(msgs, m), append(at, i)
		}
	}
	return msgs, at
}

// wait waits for the nth event of type typ and returns it.
func (l *eventLog) wait(t *testing.T, typ string, n int) wire.Message {
	t.Helper()
	var msgs []wire.Message
	waitFor(t, 10*time.Second, fmt.Sprintf("%s event #%d", typ, n), func() bool {
		msgs, _ = l.of(typ)
		return len(msgs) >= n
	})
	return msgs[n-1]
}

// websockets is the server's open signaling connections gauge.
func websockets(t *testing.T, e *env) float64 {
	_, samples := scrape(t, e.url)
	return samples["talkrelay_websocket_connections"]
}

// roomState reads a room over the REST API.
func roomState(t *testing.T, e *env, room string) (viewers, participants int, live *wire.Live) {
	t.Helper()
	var info struct {
		Viewers      int        `json:"viewers"`
		Participants int        `json:"participants"`
		Live         *wire.Live `json:"live"`
	}
	getJSON(t, e.url+"/v1/rooms/"+room, e.token(room, "admin-reader", auth.RoleViewer), http.StatusOK, &info)
	return info.Viewers, info.Participants, info.Live
}

// chatSeqs returns the Seqs of every message (user and system) the chatter
// received on its room's stream, in arrival order.
func chatSeqs(ch *chatter) []uint64 {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	var seqs []uint64
	for _, f := range ch.frames {
		if f.Type == "messages" && f.ID == "" {
			for _, m := range f.Messages {
				seqs = append(seqs, m.Seq)
			}
		}
	}
	return seqs
}

// checkChatStream fails unless seqs rise by one each, from the first.
func checkChatStream(t *testing.T, who string, seqs []uint64) {
	t.Helper()
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Fatalf("%s: chat seq %d after %d: a gap or a duplicate (all: %v)", who, seqs[i], seqs[i-1], seqs)
		}
	}
}

// (a) A viewer whose signaling drops and comes back keeps its session: no
// second joined, no viewer-count change, media and chat never stop, and what
// the room said meanwhile arrives after resumed, in order.
func TestViewerResumesDroppedSignaling(t *testing.T) {
	e := newEnv(t)
	net := &network{}
	rec := &recorder{}
	viewer := e.joinWith("rs", "viewer", auth.RoleViewer, rec.onTrack, resumeVia(net))
	first := viewer.Joined()
	if first.ResumeToken == "" || first.ResumeWithinMS != 30_000 {
		t.Fatalf("joined without a resume token and window: %+v", first)
	}
	vlog := watchEvents(viewer)
	vchat := newChatter(t, viewer)
	h := e.startHost("rs", "host", hostOptions{})
	hlog := watchEvents(h.c)
	hchat := newChatter(t, h.c)
	waitFor(t, 5*time.Second, "media", func() bool { v, a := rec.counts(); return v > 30 && a > 20 })
	hchat.send(t, map[string]any{"type": "send", "text": "before the drop"})
	waitFor(t, 5*time.Second, "chat before the drop", func() bool { return len(vchat.messages()) == 1 })

	open := websockets(t, e)
	net.down.Store(true)
	viewer.DropSignaling()
	vlog.wait(t, client.EventReconnecting, 1)
	waitFor(t, 5*time.Second, "the server to see the drop", func() bool { return websockets(t, e) == open-1 })
	v0, _ := rec.counts()
	for i := range 3 {
		hchat.send(t, map[string]any{"type": "send", "text": fmt.Sprintf("while away %d", i)})
	}
	waitFor(t, 5*time.Second, "chat while away", func() bool { return len(vchat.messages()) == 4 })
	if err := h.c.SetMuted("audio", true); err != nil {
		t.Fatal(err)
	}
	hlog.wait(t, wire.TypeTrackMuted, 1) // broadcast: the viewer's copy waits for it
	waitFor(t, 5*time.Second, "media while away", func() bool { v, _ := rec.counts(); return v > v0+30 })
	if viewers, parts, _ := roomState(t, e, "rs"); viewers != 1 || parts != 2 {
		t.Fatalf("room while the viewer is away: %d viewers, %d participants; want 1, 2", viewers, parts)
	}

	net.down.Store(false)
	resumed := vlog.wait(t, wire.TypeResumed, 1)
	if j := resumed.Joined; j == nil || j.ParticipantID != first.ParticipantID || j.ViewerCount != 1 || j.ResumeToken == "" || j.ResumeToken == first.ResumeToken || !j.Muted.Audio {
		t.Fatalf("resumed = %+v, want participant %s, count 1, a new token, audio muted", j, first.ParticipantID)
	}
	muted := vlog.wait(t, wire.TypeTrackMuted, 1)
	if muted.Kind != "audio" || muted.Muted == nil || !*muted.Muted {
		t.Fatalf("track_muted = %+v", muted)
	}
	if _, at := vlog.of(wire.TypeResumed); true {
		if _, mat := vlog.of(wire.TypeTrackMuted); mat[0] < at[0] {
			t.Fatal("the queued track_muted came before resumed")
		}
	}
	// The resumed session works both ways: a request gets its answer.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := viewer.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	vchat.send(t, map[string]any{"type": "send", "text": "back again"})
	waitFor(t, 5*time.Second, "chat after the resume", func() bool { return len(hchat.messages()) == 5 })
	time.Sleep(1200 * time.Millisecond) // a viewer-count push would have come by now

	if joins, _ := vlog.of(wire.TypeJoined); len(joins) != 1 {
		t.Fatalf("viewer got %d joined events, want only the first", len(joins))
	}
	if counts, _ := vlog.of(wire.TypeViewerCount); len(counts) != 1 || *counts[0].Count != 1 {
		t.Fatalf("viewer's viewer_count events = %+v, want only the first (1)", counts)
	}
	if counts, _ := hlog.of(wire.TypeViewerCount); len(counts) != 0 {
		t.Fatalf("host saw the viewer count change: %+v", counts)
	}
	if viewers, parts, _ := roomState(t, e, "rs"); viewers != 1 || parts != 2 {
		t.Fatalf("room after the resume: %d viewers, %d participants; want 1, 2", viewers, parts)
	}
	video, audio := rec.snapshot()
	checkContinuous(t, "video across the drop", video)
	checkContinuous(t, "audio across the drop", audio)
	checkChatStream(t, "viewer", chatSeqs(vchat))
	if got := len(vchat.messages()); got != 5 {
		t.Fatalf("viewer has %d chat messages, want 5", got)
	}
	if viewer.Err() != nil {
		t.Fatalf("viewer ended: %v", viewer.Err())
	}
}

// (b) A host whose signaling drops and comes back keeps its live: the host
// grace never starts, viewers never hear live_ended, media never stops.
func TestHostResumesDroppedSignaling(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.HostGrace = 200 * time.Millisecond })
	rec := &recorder{}
	viewer := e.join("hr", "viewer", auth.RoleViewer, rec.onTrack)
	vlog := watchEvents(viewer)
	net := &network{}
	h := e.startHost("hr", "host", hostOptions{config: resumeVia(net)})
	hlog := watchEvents(h.c)
	started := vlog.wait(t, wire.TypeLiveStarted, 1)
	waitFor(t, 5*time.Second, "media", func() bool { v, a := rec.counts(); return v > 30 && a > 20 })

	open := websockets(t, e)
	net.down.Store(true)
	h.c.DropSignaling()
	hlog.wait(t, client.EventReconnecting, 1)
	waitFor(t, 5*time.Second, "the server to see the drop", func() bool { return websockets(t, e) == open-1 })
	v0, a0 := rec.counts()
	time.Sleep(time.Second) // five host graces
	if v, a := rec.counts(); v < v0+20 || a < a0+20 {
		t.Fatalf("media stalled while the host was away: %d→%d video, %d→%d audio", v0, v, a0, a)
	}
	if _, _, live := roomState(t, e, "hr"); live == nil || live.ID != started.Live.ID {
		t.Fatalf("live while the host is away = %+v, want %s running", live, started.Live.ID)
	}

	net.down.Store(false)
	resumed := hlog.wait(t, wire.TypeResumed, 1)
	if resumed.Joined == nil || resumed.Joined.Live == nil || resumed.Joined.Live.ID != started.Live.ID {
		t.Fatalf("resumed = %+v, want the running live", resumed.Joined)
	}
	video, audio := rec.snapshot()
	checkContinuous(t, "video across the host's drop", video)
	checkContinuous(t, "audio across the host's drop", audio)
	// The host's signaling works again.
	if err := h.c.SetMuted("video", true); err != nil {
		t.Fatal(err)
	}
	vlog.wait(t, wire.TypeTrackMuted, 1)
	for _, m := range vlog.all() {
		if m.Type == wire.TypeLiveEnded {
			t.Fatalf("viewer heard live_ended: %+v", m.Live)
		}
	}
	if joins, _ := hlog.of(wire.TypeJoined); len(joins) != 1 {
		t.Fatalf("host got %d joined events, want only the first", len(joins))
	}
}

// A host that drops and never comes back falls into the host grace once the
// resume window has passed, and the live ends with host_left.
func TestDetachedHostNotBackEndsLive(t *testing.T) {
	e := newEnv(t, func(c *server.Config) {
		c.HostGrace = 300 * time.Millisecond
		c.ResumeWindow = 300 * time.Millisecond
	})
	viewer := e.join("gone2", "viewer", auth.RoleViewer, nil)
	h := e.startHost("gone2", "host", hostOptions{})
	nextEvent(t, viewer, wire.TypeLiveStarted, 5*time.Second)
	h.stop()
	dropped := time.Now()
	h.c.DropSignaling() // without Resume the host's client just ends
	ev := nextEvent(t, viewer, wire.TypeLiveEnded, 5*time.Second)
	if ev.Live == nil || ev.Live.EndReason != wire.EndHostLeft {
		t.Fatalf("live_ended = %+v, want reason %s", ev.Live, wire.EndHostLeft)
	}
	if waited := time.Since(dropped); waited < 500*time.Millisecond {
		t.Fatalf("live ended %v after the drop, before the resume window and the grace had passed", waited)
	}
	var lives struct {
		Lives []struct {
			EndReason string `json:"end_reason"`
		} `json:"lives"`
	}
	waitFor(t, 5*time.Second, "the live's record", func() bool {
		getJSON(t, e.url+"/v1/rooms/gone2/lives", e.token("gone2", "reader", auth.RoleViewer), http.StatusOK, &lives)
		return len(lives.Lives) == 1 && lives.Lives[0].EndReason == wire.EndHostLeft
	})
}

// (c) Resume tokens at the protocol level: a valid one resumes (and is
// replaced), a used, foreign or malformed one joins afresh, and after the
// window the session is gone.
func TestResumeTokens(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.ResumeWindow = 500 * time.Millisecond })
	e.join("tok", "host", auth.RoleHost, nil) // keeps the room open
	join := func(identity, resume string) (*raw, wire.Message) {
		t.Helper()
		r := e.raw()
		r.sendJSON(wire.Message{Type: wire.TypeJoin, ID: "j", Token: e.token("tok", identity, auth.RoleViewer), Resume: resume})
		return r, r.nextAny()
	}
	r1, j1 := join("v", "")
	if j1.Type != wire.TypeJoined || j1.Joined.ResumeToken == "" || j1.Joined.ResumeWithinMS != 500 {
		t.Fatalf("first join = %s %+v", j1.Type, j1.Joined)
	}

	// The server need not have noticed the old connection die: a resume takes
	// the session from it.
	r2, j2 := join("v", j1.Joined.ResumeToken)
	r1.expectError(wire.CodeReplaced, true)
	if j2.Type != wire.TypeResumed || j2.ID != "j" || j2.Joined.ParticipantID != j1.Joined.ParticipantID ||
		j2.Joined.ResumeToken == j1.Joined.ResumeToken || j2.Joined.ViewerCount != 1 {
		t.Fatalf("resume = %s id %q %+v, want resumed of %s with a new token", j2.Type, j2.ID, j2.Joined, j1.Joined.ParticipantID)
	}
	// r1 never answered the subscriber offer (the chat channel's): it comes again.
	if m := r2.next(wire.TypeOffer); !strings.Contains(m.SDP, "webrtc-datachannel") {
		t.Fatalf("offer after the resume = %q, want the waiting subscriber offer", m.SDP)
	}

	// A token is good once: the old one starts a new session, which replaces
	// the resumed one as any rejoin of the same identity does.
	r3, j3 := join("v", j1.Joined.ResumeToken)
	if j3.Type != wire.TypeJoined || j3.Joined.ParticipantID == j1.Joined.ParticipantID {
		t.Fatalf("join with a used token = %s %+v, want a new session", j3.Type, j3.Joined)
	}
	r2.expectError(wire.CodeReplaced, true)
	if viewers, parts, _ := roomState(t, e, "tok"); viewers != 1 || parts != 2 {
		t.Fatalf("room after the resumes: %d viewers, %d participants; want 1, 2", viewers, parts)
	}

	// Another identity cannot take the session; nonsense is ignored.
	for _, bad := range []string{j3.Joined.ResumeToken, "nonsense", j3.Joined.ParticipantID + ".00", "."} {
		other, m := join("w", bad)
		if m.Type != wire.TypeJoined || m.Joined.Identity != "w" {
			t.Fatalf("w joining with resume %q = %s %+v, want a session of its own", bad, m.Type, m.Joined)
		}
		other.ws.Close(websocket.StatusNormalClosure, "") // a goodbye: no resume window
		waitFor(t, 5*time.Second, "w to leave", func() bool { viewers, _, _ := roomState(t, e, "tok"); return viewers == 1 })
	}
	r3.sendJSON(wire.Message{Type: wire.TypePing, ID: "alive"})
	if m := r3.next(wire.TypePong); m.ID != "alive" {
		t.Fatal("v's session was disturbed")
	}

	// After the window the dropped session has left, and its token joins afresh.
	r3.ws.CloseNow()
	time.Sleep(200 * time.Millisecond)
	if viewers, _, _ := roomState(t, e, "tok"); viewers != 1 {
		t.Fatalf("%d viewers within the resume window, want v still counted", viewers)
	}
	waitFor(t, 5*time.Second, "the session to expire", func() bool { viewers, _, _ := roomState(t, e, "tok"); return viewers == 0 })
	_, j4 := join("v", j3.Joined.ResumeToken)
	if j4.Type != wire.TypeJoined || j4.Joined.ParticipantID == j3.Joined.ParticipantID || j4.Joined.ViewerCount != 1 {
		t.Fatalf("resume after the window = %s %+v, want a new session", j4.Type, j4.Joined)
	}
}

// (c) A client that cannot come back within the window gets a new session;
// its chat continues after the last message it had, with no gap and no
// duplicate, and media flows again on a new subscriber.
func TestResumeAfterWindowJoinsAfresh(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.ResumeWindow = 300 * time.Millisecond })
	h := e.startHost("late", "host", hostOptions{})
	hchat := newChatter(t, h.c)
	net := &network{}
	rec := &recorder{}
	viewer := e.joinWith("late", "viewer", auth.RoleViewer, rec.onTrack, resumeVia(net))
	first := viewer.Joined()
	vlog := watchEvents(viewer)
	vchat := newChatter(t, viewer)
	hchat.send(t, map[string]any{"type": "send", "text": "one"})
	waitFor(t, 5*time.Second, "chat", func() bool { return len(vchat.messages()) == 1 })
	waitFor(t, 5*time.Second, "media", func() bool { v, _ := rec.counts(); return v > 30 })

	net.down.Store(true)
	viewer.DropSignaling()
	vlog.wait(t, client.EventReconnecting, 1)
	waitFor(t, 5*time.Second, "the session to expire", func() bool { viewers, _, _ := roomState(t, e, "late"); return viewers == 0 })
	hchat.send(t, map[string]any{"type": "send", "text": "two"})
	hchat.send(t, map[string]any{"type": "send", "text": "three"})
	waitFor(t, 5*time.Second, "the host's acks", func() bool { return len(hchat.messages()) == 3 })
	v0, _ := rec.counts()
	net.down.Store(false)

	again := vlog.wait(t, wire.TypeJoined, 2)
	if again.Joined.ParticipantID == first.ParticipantID {
		t.Fatal("a new session kept the old participant id")
	}
	waitFor(t, 5*time.Second, "the missed chat", func() bool { return len(vchat.messages()) >= 3 })
	waitFor(t, 5*time.Second, "media on the new subscriber", func() bool { v, _ := rec.counts(); return v > v0+30 })
	time.Sleep(200 * time.Millisecond) // a duplicate would be here by now
	checkChatStream(t, "viewer", chatSeqs(vchat))
	if got := vchat.messages(); len(got) != 3 || got[2].Text != "three" {
		t.Fatalf("viewer's chat = %+v, want one, two, three", got)
	}
	if resumes, _ := vlog.of(wire.TypeResumed); len(resumes) != 0 {
		t.Fatalf("resumed after the window: %+v", resumes)
	}
}

// remoteUfrag is the ICE username fragment of a connection's remote description.
func remoteUfrag(pc *webrtc.PeerConnection) string {
	d := pc.CurrentRemoteDescription()
	if d == nil {
		return ""
	}
	for _, line := range strings.Split(d.SDP, "\r\n") {
		if u, ok := strings.CutPrefix(line, "a=ice-ufrag:"); ok {
			return u
		}
	}
	return ""
}

// (d) ICE restarts of a viewer's subscriber (asked for by the viewer) and of a
// host's publisher find a new path without disturbing media or chat.
func TestICERestartKeepsMediaFlowing(t *testing.T) {
	e := newEnv(t)
	rec := &recorder{}
	viewer := e.join("ice", "viewer", auth.RoleViewer, rec.onTrack)
	vchat := newChatter(t, viewer)
	h := e.startHost("ice", "host", hostOptions{})
	hchat := newChatter(t, h.c)
	waitFor(t, 5*time.Second, "media", func() bool { v, a := rec.counts(); return v > 30 && a > 20 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	before := remoteUfrag(viewer.Subscriber())
	if err := viewer.ICERestart(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the restart offer", func() bool { return remoteUfrag(viewer.Subscriber()) != before })
	v0, a0 := rec.counts()
	waitFor(t, 5*time.Second, "media after the subscriber's restart", func() bool { v, a := rec.counts(); return v > v0+30 && a > a0+20 })

	before = remoteUfrag(h.c.Publisher())
	if err := h.c.ICERestart(ctx); err != nil {
		t.Fatal(err)
	}
	if after := remoteUfrag(h.c.Publisher()); after == before {
		t.Fatal("the publisher's answer kept its ICE credentials")
	}
	v1, a1 := rec.counts()
	waitFor(t, 5*time.Second, "media after the publisher's restart", func() bool { v, a := rec.counts(); return v > v1+30 && a > a1+20 })

	hchat.send(t, map[string]any{"type": "send", "text": "still here"})
	waitFor(t, 5*time.Second, "chat after the restarts", func() bool { return len(vchat.messages()) == 1 })
	video, audio := rec.snapshot()
	for _, k := range []struct {
		name string
		pkts []packet
	}{{"video", video}, {"audio", audio}} {
		// pion drops the old path as a restart begins, so the packets of the
		// switch itself may be lost (on loopback usually none; a few on a busy
		// machine). Beyond that the stream must go on as one.
		if lost := missing(k.pkts); lost > 10 {
			t.Fatalf("%s: %d of %d packets lost across two restarts", k.name, lost, len(k.pkts))
		}
	}
	if st := viewer.Subscriber().ConnectionState(); st != webrtc.PeerConnectionStateConnected {
		t.Fatalf("viewer's subscriber is %s", st)
	}
}

// (e) Drops, resumes, restarts and sessions that expire leave no goroutines
// behind, on the server or in the SDK.
func TestResumeNoGoroutineLeak(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.ResumeWindow = 300 * time.Millisecond })
	base := settledGoroutines()
	for round := range 3 {
		room := fmt.Sprintf("rleak%d", round)
		h := e.startHost(room, "host", hostOptions{})
		var clients []*client.Client
		for i := range 4 {
			net := &network{}
			c := e.joinWith(room, fmt.Sprintf("v%d", i), auth.RoleViewer, nil, resumeVia(net))
			l := watchEvents(c)
			select {
			case <-c.ChatReady():
			case <-time.After(10 * time.Second):
				t.Fatal("chat channel did not open")
			}
			c.DropSignaling()
			l.wait(t, wire.TypeResumed, 1)
			clients = append(clients, c)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := clients[0].ICERestart(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		// One viewer never comes back: its session expires on the server.
		gone := e.join(room, "gone", auth.RoleViewer, nil)
		gone.DropSignaling()
		waitFor(t, 5*time.Second, "the session to expire", func() bool { viewers, _, _ := roomState(t, e, room); return viewers == 4 })
		// Ended, not left: a live whose host drops keeps its feeds for the host grace.
		if err := h.c.EndLive(); err != nil {
			t.Fatal(err)
		}
		nextEvent(t, h.c, wire.TypeLiveEnded, 5*time.Second)
		h.stop()
		h.c.Close()
		for _, c := range clients {
			c.Close()
		}
	}
	expectGoroutinesBack(t, base)
}

// A Resume client does not come back when the server ended its session on
// purpose: replaced by the same identity elsewhere, after Leave, at shutdown.
func TestResumeNotAfterServerEnds(t *testing.T) {
	e := newEnv(t)
	net := &network{}
	ended := func(c *client.Client) {
		t.Helper()
		select {
		case <-c.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("client still running")
		}
	}
	noReconnect := func(who string, l *eventLog) {
		t.Helper()
		if msgs, _ := l.of(client.EventReconnecting); len(msgs) > 0 {
			t.Fatalf("%s tried to resume", who)
		}
	}

	first := e.joinWith("end", "v", auth.RoleViewer, nil, resumeVia(net))
	flog := watchEvents(first)
	second := e.joinWith("end", "v", auth.RoleViewer, nil, resumeVia(net))
	slog := watchEvents(second)
	ended(first)
	var we *wire.Error
	if !errors.As(first.Err(), &we) || we.Code != wire.CodeReplaced {
		t.Fatalf("replaced client ended with %v", first.Err())
	}

	leaver := e.joinWith("end", "w", auth.RoleViewer, nil, resumeVia(net))
	llog := watchEvents(leaver)
	if err := leaver.Leave(); err != nil || leaver.Err() != nil {
		t.Fatalf("leave: %v, Err %v", err, leaver.Err())
	}

	if err := e.node.Shutdown(); err != nil {
		t.Fatal(err)
	}
	ended(second)
	if !errors.Is(second.Err(), client.ErrServerShutdown) {
		t.Fatalf("client ended with %v at shutdown", second.Err())
	}
	time.Sleep(300 * time.Millisecond) // a resume attempt would have begun
	noReconnect("replaced client", flog)
	noReconnect("leaving client", llog)
	noReconnect("client at shutdown", slog)
}

// A host whose session is gone (dropped, not resumed within the window) puts
// the live in the interrupted state viewers can show ("host reconnecting");
// when the host publishes again within the grace, the same live resumes.
func TestHostDropInterruptsThenResumesLive(t *testing.T) {
	e := newEnv(t, func(c *server.Config) {
		c.HostGrace = 20 * time.Second
		c.ResumeWindow = 300 * time.Millisecond
	})
	rec := &recorder{}
	viewer := e.join("back", "viewer", auth.RoleViewer, rec.onTrack)
	vlog := watchEvents(viewer)
	h := e.startHost("back", "host", hostOptions{})
	started := vlog.wait(t, wire.TypeLiveStarted, 1)
	h.stop()
	h.c.DropSignaling() // without Resume the host's client just ends

	in := vlog.wait(t, wire.TypeLiveInterrupted, 1)
	if in.Reason != wire.InterruptHostDisconnected || in.Live == nil || in.Live.ID != started.Live.ID ||
		in.Live.State != wire.LiveInterrupted {
		t.Fatalf("live_interrupted = %+v (reason %q); want live %s interrupted, host_disconnected", in.Live, in.Reason, started.Live.ID)
	}

	v0, _ := rec.counts()
	e.startHost("back", "host", hostOptions{})
	back := vlog.wait(t, wire.TypeLiveResumed, 1)
	if back.Live == nil || back.Live.ID != started.Live.ID || back.Live.State != wire.LiveOn {
		t.Fatalf("live_resumed = %+v; want live %s on again", back.Live, started.Live.ID)
	}
	waitFor(t, 10*time.Second, "media from the returning host", func() bool { v, _ := rec.counts(); return v > v0+30 })
	if ended, _ := vlog.of(wire.TypeLiveEnded); len(ended) != 0 {
		t.Fatalf("viewer heard live_ended: %+v", ended[0].Live)
	}
}
