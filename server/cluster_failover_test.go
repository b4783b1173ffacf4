package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/server"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// The failure tests run nodes with the production heartbeat (1 s, dead after
// 4 s), the one the binary uses: a cluster's nodes must agree on it.
func productionHeartbeat(c *server.Config) { c.Cluster.Heartbeat = time.Second }

// Three nodes on one NATS: the host on A, two viewers on C, a real process.
// C is killed with SIGKILL: the viewers' SDK finds its node unreachable and
// joins A or B afresh (joined.nodes), and receives media again from there;
// the dead node's viewers leave the summed count once its entry expires.
func TestClusterEdgeDeathViewersFailOver(t *testing.T) {
	edgeFailover(t, "killed", (*sfuProc).kill)
}

// The same with C frozen (SIGSTOP): no connection is reset, the node just
// goes silent, as a machine that died or was cut off. The viewers' media
// stops, their SDK pings, hears nothing and fails over all the same.
func TestClusterFrozenEdgeViewersFailOver(t *testing.T) {
	edgeFailover(t, "frozen", (*sfuProc).freeze)
}

func edgeFailover(t *testing.T, how string, stop func(*sfuProc)) {
	if testing.Short() {
		t.Skip("builds and runs the sfu binary")
	}
	bin := buildSFU(t)
	natsURL := startNATS(t)
	a := clusterNode(t, natsURL, "a", productionHeartbeat)
	b := clusterNode(t, natsURL, "b", productionHeartbeat)
	c := startSFUProc(t, bin, natsURL, "c")
	waitFor(t, 15*time.Second, "three nodes registered", func() bool {
		return len(a.node.Cluster().Nodes()) == 3 && len(b.node.Cluster().Nodes()) == 3
	})

	h := a.startHost("big", "host", hostOptions{})
	count := watchViewerCount(h.c)
	waitFor(t, 10*time.Second, "A claims the room", func() bool {
		o, ok := b.node.Cluster().Origin("big")
		return ok && o.Node == "a"
	})
	onC := &env{t: t, node: a.node, url: c.url, api: a.api}
	resume := func(cfg *client.Config) { cfg.Resume = true }
	recs := []*recorder{{}, {}}
	var viewers []*client.Client
	for i, rec := range recs {
		viewers = append(viewers, onC.joinWith("big", fmt.Sprintf("v%d", i), auth.RoleViewer, rec.onTrack, resume))
	}
	for i, v := range viewers {
		waitFor(t, 15*time.Second, "video relayed to C", func() bool {
			n, _ := recs[i].counts()
			return n > 30
		})
		waitFor(t, 10*time.Second, "the viewer knows A and B", func() bool {
			nodes := v.Nodes()
			return slices.Contains(nodes, a.url) && slices.Contains(nodes, b.url)
		})
	}
	waitFor(t, 10*time.Second, "the host counts C's viewers", func() bool { return count.last() == 2 })

	before := make([]map[uint32]bool, len(recs))
	for i, rec := range recs {
		before[i] = videoSSRCs(rec)
	}
	killed := time.Now()
	stop(c)
	for i, rec := range recs {
		var back time.Time
		waitFor(t, 25*time.Second, "media again after C was "+how, func() bool {
			back = firstNewVideo(rec, before[i])
			return !back.IsZero()
		})
		var on string
		switch viewers[i].URL() {
		case a.url:
			on = "A, the origin"
		case b.url:
			on = "B, which pulls the live for it"
		default:
			t.Fatalf("viewer %d is on %s; want A (%s) or B (%s)", i, viewers[i].URL(), a.url, b.url)
		}
		// The design target is 5 s; the assertion above is generous for a
		// loaded machine.
		t.Logf("viewer %d: media again %v after C was %s (now on %s)", i, back.Sub(killed).Round(time.Millisecond), how, on)
	}

	// C's share leaves the sum once its registry entry expires.
	waitFor(t, 10*time.Second, "C gone from the registry", func() bool {
		return len(a.node.Cluster().Nodes()) == 2 && len(b.node.Cluster().Nodes()) == 2
	})
	waitFor(t, 5*time.Second, "the host counts the two viewers once", func() bool { return count.last() == 2 })
	t.Logf("viewer count seen by the host: at most %d during the failover, %d after", count.max(), count.last())
}

// The origin dies (a real process, SIGKILL) under three lives. The host of
// r3 reconnects to B at once, as its SDK would, before A's registry entry
// has expired; B has no r3 room, yet continues the live (same id) and takes
// the room over once A's entry expires. The viewers of r1 and r2 on B and C
// are told their live is interrupted; r1's host then reconnects to B, whose
// room shows r1, and continues it too. C pulls r1 and r3 from B: every viewer
// of r1 and r3 gets media again on the same live, told the host is back.
// r2's host never returns: when the grace passes the live ends everywhere
// with origin_lost, recorded once.
func TestClusterOriginDeathHostReturnsElsewhere(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the sfu binary")
	}
	bin := buildSFU(t)
	natsURL := startNATS(t)
	const grace = 10 * time.Second
	tweak := func(c *server.Config) {
		productionHeartbeat(c)
		c.HostGrace = grace // also how long edges wait for a host whose node died
	}
	a := startSFUProc(t, bin, natsURL, "a")
	b := clusterNode(t, natsURL, "b", tweak)
	c := clusterNode(t, natsURL, "c", tweak)
	waitFor(t, 15*time.Second, "three nodes registered", func() bool {
		return len(b.node.Cluster().Nodes()) == 3 && len(c.node.Cluster().Nodes()) == 3
	})

	onA := &env{t: t, node: b.node, url: a.url, api: b.api}
	small := hostOptions{}
	small.video.Bitrate = 200_000
	hosts := []*host{onA.startHost("r1", "host1", hostOptions{}), onA.startHost("r2", "host2", small), onA.startHost("r3", "host3", small)}
	for _, r := range []string{"r1", "r2", "r3"} {
		waitFor(t, 10*time.Second, "A claims "+r, func() bool {
			ob, okb := b.node.Cluster().Origin(r)
			oc, okc := c.node.Cluster().Origin(r)
			return okb && okc && ob.Node == "a" && oc.Node == "a"
		})
	}
	type watcher struct {
		name, room string
		c          *client.Client
		rec        *recorder
		live       string
	}
	var ws []*watcher
	for _, w := range []struct {
		node       *env
		name, room string
	}{{b, "vb1", "r1"}, {c, "vc1", "r1"}, {b, "vb2", "r2"}, {c, "vc2", "r2"}, {c, "vc3", "r3"}} {
		rec := &recorder{}
		v := w.node.join(w.room, w.name, auth.RoleViewer, rec.onTrack)
		started := nextEvent(t, v, wire.TypeLiveStarted, 15*time.Second)
		ws = append(ws, &watcher{name: w.name, room: w.room, c: v, rec: rec, live: started.Live.ID})
	}
	for _, w := range ws {
		waitFor(t, 15*time.Second, w.name+" receives video", func() bool {
			n, _ := w.rec.counts()
			return n > 30
		})
	}

	killed := time.Now()
	a.kill()
	for _, h := range hosts {
		h.stop()
	}
	h3 := b.startHost("r3", "host3", small)
	if m := nextEvent(t, h3.c, wire.TypeLiveStarted, 10*time.Second); m.Live.ID != ws[4].live {
		t.Fatalf("host3's live on B is %s; want its live %s continued", m.Live.ID, ws[4].live)
	}
	t.Logf("host3 published on B %v after A was killed", time.Since(killed).Round(time.Millisecond))

	for _, w := range ws[:4] {
		m := nextEvent(t, w.c, wire.TypeLiveInterrupted, 20*time.Second)
		if m.Reason != wire.InterruptOriginLost || m.Live == nil || m.Live.ID != w.live || m.Live.State != wire.LiveInterrupted {
			t.Fatalf("%s: live_interrupted %+v (reason %q); want live %s interrupted, origin_lost", w.name, m.Live, m.Reason, w.live)
		}
		t.Logf("%s told the live is interrupted %v after A was killed", w.name, time.Since(killed).Round(time.Millisecond))
	}

	// r1's host comes back, to B, whose room shows the interrupted live.
	returned := time.Now()
	h1 := b.startHost("r1", "host1", hostOptions{})
	if l := h1.c.Joined().Live; l == nil || l.ID != ws[0].live {
		t.Fatalf("host1 joined B's room showing %+v; want its live %s", l, ws[0].live)
	}
	for _, w := range ws[:2] {
		before, _ := w.rec.counts()
		oldSSRC := videoSSRCs(w.rec)
		m := nextEvent(t, w.c, wire.TypeLiveResumed, 20*time.Second)
		if m.Live == nil || m.Live.ID != w.live || m.Live.State != wire.LiveOn {
			t.Fatalf("%s: live_resumed %+v; want the same live %s running", w.name, m.Live, w.live)
		}
		waitFor(t, 15*time.Second, w.name+" receives video again", func() bool {
			n, _ := w.rec.counts()
			return n > before+30
		})
		t.Logf("%s: live %s resumed, media again %v after the host returned (same track: %v)",
			w.name, w.live, time.Since(returned).Round(time.Millisecond), len(videoSSRCs(w.rec)) == len(oldSSRC))
	}
	for _, r := range []string{"r1", "r3"} {
		waitFor(t, 10*time.Second, "B took "+r+" over", func() bool {
			o, ok := c.node.Cluster().Origin(r)
			return ok && o.Node == "b"
		})
	}
	// r3's viewer on C: media again on the same live, whether C noticed the
	// interruption before B took the room over or not.
	vc3 := ws[4]
	before, _ := vc3.rec.counts()
	deadline := time.After(15 * time.Second)
	for n := before; n <= before+30; n, _ = vc3.rec.counts() {
		select {
		case m := <-vc3.c.Events():
			if (m.Type == wire.TypeLiveStarted || m.Type == wire.TypeLiveEnded) && m.Live != nil {
				t.Fatalf("vc3: %s %+v; want live %s to go on", m.Type, m.Live, vc3.live)
			}
		case <-deadline:
			t.Fatal("vc3 received no video after host3 returned")
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Logf("vc3: media again %v after A was killed", time.Since(killed).Round(time.Millisecond))

	// r2's host never came back: the live ends everywhere, recorded once.
	for _, w := range ws[2:4] {
		m := nextEvent(t, w.c, wire.TypeLiveEnded, grace+20*time.Second)
		if m.Live == nil || m.Live.ID != w.live || m.Live.EndReason != wire.EndOriginLost {
			t.Fatalf("%s: live_ended %+v; want live %s ended with origin_lost", w.name, m.Live, w.live)
		}
		t.Logf("%s: live ended %v after A was killed", w.name, time.Since(killed).Round(time.Millisecond))
	}
	var recs []string
	waitFor(t, 10*time.Second, "r2's record", func() bool {
		got, err := b.node.Rooms().Lives().Lives(context.Background(), "r2")
		if err != nil {
			t.Fatal(err)
		}
		recs = recs[:0]
		for _, r := range got {
			recs = append(recs, r.ID+"/"+r.EndReason)
		}
		return len(got) > 0
	})
	if want := ws[2].live + "/" + wire.EndOriginLost; len(recs) != 1 || recs[0] != want {
		t.Fatalf("r2's records: %v; want exactly [%s]", recs, want)
	}
}

// Moderation on the origin node reaches the viewers on another: a deleted
// message disappears on both nodes (and from B's backfill), a mute shows on
// B, and a ban disconnects the viewer on B, who cannot come back anywhere.
func TestClusterModerationCrossesNodes(t *testing.T) {
	url := startNATS(t)
	a := clusterNode(t, url, "a", nil)
	b := clusterNode(t, url, "b", nil)
	waitFor(t, 5*time.Second, "both nodes registered", func() bool {
		return len(a.node.Cluster().Nodes()) == 2 && len(b.node.Cluster().Nodes()) == 2
	})
	h := a.startHost("mod", "host", hostOptions{})
	waitFor(t, 5*time.Second, "A claims the room", func() bool {
		o, ok := b.node.Cluster().Origin("mod")
		return ok && o.Node == "a"
	})
	troll := b.join("mod", "troll", auth.RoleViewer, nil)
	fan := b.join("mod", "fan", auth.RoleViewer, nil)
	waitLiveOn(t, fan, 10*time.Second)
	hc, tc, fc := newChatter(t, h.c), newChatter(t, troll), newChatter(t, fan)

	hc.send(t, map[string]any{"type": "send", "id": "w", "text": "welcome"})
	tc.send(t, map[string]any{"type": "send", "id": "s", "text": "spam spam"})
	var spam uint64
	waitFor(t, 5*time.Second, "the spam is stored", func() bool {
		f, ok := tc.find("ack", "s")
		spam = f.Seq
		return ok
	})
	for _, ch := range []*chatter{hc, fc} {
		waitFor(t, 5*time.Second, "both messages delivered", func() bool { return len(ch.messages()) == 2 })
	}

	hc.send(t, map[string]any{"type": "delete", "id": "d", "seq": spam})
	for name, ch := range map[string]*chatter{"host on A": hc, "viewer on B": fc, "sender on B": tc} {
		waitFor(t, 5*time.Second, name+" told of the delete", func() bool {
			f, ok := ch.find("deleted", "")
			return ok && f.Seq == spam
		})
	}
	lc := newChatter(t, b.join("mod", "late", auth.RoleViewer, nil))
	waitFor(t, 5*time.Second, "B's backfill", func() bool { return len(lc.messages()) > 0 })
	for _, m := range lc.messages() {
		if m.Seq == spam {
			t.Fatalf("a late joiner on B still received the deleted message %+v", m)
		}
	}

	if err := h.c.SetMuted("video", true); err != nil {
		t.Fatal(err)
	}
	if m := nextEvent(t, fan, wire.TypeTrackMuted, 5*time.Second); m.Kind != "video" || m.Muted == nil || !*m.Muted {
		t.Fatalf("track_muted on B = %+v; want video muted", m)
	}

	hc.send(t, map[string]any{"type": "ban", "id": "b", "identity": "troll"})
	select {
	case <-troll.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the banned viewer on B stayed connected")
	}
	var we *wire.Error
	if !asWireError(troll.Err(), &we) || we.Code != wire.CodeKicked {
		t.Fatalf("the banned viewer ended with %v; want kicked", troll.Err())
	}
	for name, e := range map[string]*env{"B": b, "A": a} {
		_, err := joinErr(e, "mod", "troll", auth.RoleViewer)
		if !asWireError(err, &we) || we.Code != wire.CodeBanned {
			t.Fatalf("the banned viewer rejoining %s: %v; want banned", name, err)
		}
	}
}

// videoSSRCs is the set of SSRCs rec has received video on.
func videoSSRCs(rec *recorder) map[uint32]bool {
	video, _ := rec.snapshot()
	out := map[uint32]bool{}
	for _, p := range video {
		out[p.ssrc] = true
	}
	return out
}

// firstNewVideo is when rec first received video on an SSRC not in old (a
// new subscriber's track), or zero.
func firstNewVideo(rec *recorder, old map[uint32]bool) time.Time {
	video, _ := rec.snapshot()
	for _, p := range video {
		if !old[p.ssrc] {
			return p.at
		}
	}
	return time.Time{}
}

// countWatch follows the viewer counts a client is told.
type countWatch struct {
	mu       sync.Mutex
	now, top int
}

func (w *countWatch) last() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

func (w *countWatch) max() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.top
}

// watchViewerCount drains c's events, keeping the viewer counts.
func watchViewerCount(c *client.Client) *countWatch {
	w := &countWatch{now: c.Joined().ViewerCount}
	// Reader: owned by the test, ends when the client's events close with it.
	go func() {
		for m := range c.Events() {
			if m.Type == wire.TypeViewerCount && m.Count != nil {
				w.mu.Lock()
				w.now, w.top = *m.Count, max(w.top, *m.Count)
				w.mu.Unlock()
			}
		}
	}()
	return w
}

// A WHEP viewer arriving at a node past its redirect threshold is sent, with
// 307 Temporary Redirect, to the same endpoint on the node the WebSocket
// placement picks, where its offer is answered.
func TestClusterWHEPRedirect(t *testing.T) {
	url := startNATS(t)
	a := clusterNode(t, url, "a", func(c *server.Config) { c.MaxViewers = 1 })
	b := clusterNode(t, url, "b", nil)
	waitFor(t, 5*time.Second, "both nodes registered", func() bool {
		return len(a.node.Cluster().Nodes()) == 2 && len(b.node.Cluster().Nodes()) == 2
	})
	a.startHost("wh", "host", hostOptions{})
	waitFor(t, 5*time.Second, "A claims the room", func() bool {
		o, ok := b.node.Cluster().Origin("wh")
		return ok && o.Node == "a"
	})
	a.join("wh", "va", auth.RoleViewer, nil) // A is full
	vb := b.join("wh", "vb", auth.RoleViewer, nil)
	nextEvent(t, vb, wire.TypeLiveStarted, 10*time.Second) // B relays the live

	pc, err := a.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	tok := a.token("wh", "player", auth.RoleViewer)
	post := func(url string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(pc.LocalDescription().SDP))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/sdp")
		// The redirect is what is tested: not followed here.
		hc := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res
	}
	res := post(a.url + "/whep/wh")
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusTemporaryRedirect || loc != b.url+"/whep/wh" {
		t.Fatalf("WHEP at full A: %d, Location %q; want 307 to %s/whep/wh", res.StatusCode, loc, b.url)
	}
	res = post(loc)
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("WHEP at B: %d %s; want 201", res.StatusCode, body)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(body)}); err != nil {
		t.Fatalf("B's answer: %v", err)
	}
	waitFor(t, 5*time.Second, "the WHEP viewer on B", func() bool { return b.node.WHIPSessions() == 1 })
}
