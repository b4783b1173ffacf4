package server_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/client/synth"
	"github.com/talkrelay/talkrelay/room"
	"github.com/talkrelay/talkrelay/server"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// Ending the live reaches every viewer with its duration, stops their media and
// leaves a record with the peak viewer count.
func TestEndLive(t *testing.T) {
	e := newEnv(t)
	const n = 3
	recs := make([]*recorder, n)
	viewers := make([]*client.Client, n)
	for i := range viewers {
		recs[i] = &recorder{}
		viewers[i] = e.join("end", fmt.Sprintf("v%d", i), auth.RoleViewer, recs[i].onTrack)
	}
	h := e.startHost("end", "host", hostOptions{})
	for i := range viewers {
		ev := nextEvent(t, viewers[i], wire.TypeLiveStarted, 5*time.Second)
		if ev.Live == nil || ev.Live.Host != "host" || ev.Live.State != wire.LiveOn {
			t.Fatalf("live_started = %+v", ev.Live)
		}
		waitFor(t, 5*time.Second, "media before the end", func() bool { v, a := recs[i].counts(); return v > 10 && a > 10 })
	}

	// A second host identity cannot take over the running live.
	_, err := joinErr(e, "end", "usurper", auth.RoleHost)
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodeLiveInProgress {
		t.Fatalf("second host joined: err = %v, want %s", err, wire.CodeLiveInProgress)
	}

	time.Sleep(500 * time.Millisecond)
	if err := h.c.EndLive(); err != nil {
		t.Fatal(err)
	}
	for i, v := range viewers {
		ev := nextEvent(t, v, wire.TypeLiveEnded, 5*time.Second)
		if ev.Live == nil || ev.Live.EndReason != wire.EndHostEnded || ev.Live.DurationMS < 500 || ev.Live.State != wire.LiveEnded {
			t.Fatalf("viewer %d: live_ended = %+v", i, ev.Live)
		}
	}
	time.Sleep(300 * time.Millisecond) // in flight at the end
	before := make([]int, n)
	for i, r := range recs {
		before[i], _ = r.counts()
	}
	time.Sleep(700 * time.Millisecond)
	for i, r := range recs {
		if after, _ := r.counts(); after != before[i] {
			t.Fatalf("viewer %d still receives video after the end: %d -> %d", i, before[i], after)
		}
	}
	if h.c.Publisher().ConnectionState().String() == "connected" {
		waitFor(t, 5*time.Second, "host publisher closed", func() bool {
			return h.c.Publisher().ConnectionState().String() != "connected"
		})
	}

	var body struct {
		Lives []room.LiveRecord `json:"lives"`
	}
	getJSON(t, e.url+"/v1/rooms/end/lives", e.token("end", "v0", auth.RoleViewer), http.StatusOK, &body)
	if len(body.Lives) != 1 {
		t.Fatalf("lives = %+v, want one record", body.Lives)
	}
	rec := body.Lives[0]
	if rec.Host != "host" || rec.PeakViewers != n || rec.EndReason != wire.EndHostEnded || rec.DurationMS < 500 || !rec.EndedAt.After(rec.StartedAt) {
		t.Fatalf("live record = %+v", rec)
	}
}

func TestLivesAPIAuth(t *testing.T) {
	e := newEnv(t)
	getJSON(t, e.url+"/v1/rooms/a/lives", "", http.StatusUnauthorized, nil)
	getJSON(t, e.url+"/v1/rooms/a/lives", "garbage", http.StatusUnauthorized, nil)
	getJSON(t, e.url+"/v1/rooms/a/lives", e.token("b", "x", auth.RoleViewer), http.StatusForbidden, nil)
	admin, err := e.node.Minter.Mint(auth.Grant{Identity: "ops", Role: auth.RoleAdmin}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Lives []room.LiveRecord `json:"lives"`
	}
	getJSON(t, e.url+"/v1/rooms/a/lives", admin, http.StatusOK, &body)
	if len(body.Lives) != 0 {
		t.Fatalf("lives of a room never used = %+v", body.Lives)
	}
}

// A host whose connection drops and who comes back within the grace period
// continues the same live: viewers keep one SSRC and continuous sequence numbers
// and timestamps, though the new stream starts anew.
func TestHostReconnectContinuity(t *testing.T) {
	e := newEnv(t)
	r := &recorder{}
	viewer := e.join("re", "viewer", auth.RoleViewer, r.onTrack)
	h1 := e.startHost("re", "host", hostOptions{video: synth.VideoConfig{FirstSeq: 100}, audio: synth.AudioConfig{FirstSeq: 100}})
	waitFor(t, 5*time.Second, "first stream", func() bool { v, a := r.counts(); return v > 30 && a > 20 })
	h1.stop()
	h1.c.Close() // dropped, not left: the live waits for the host
	time.Sleep(300 * time.Millisecond)
	v1, a1 := r.counts()

	h2 := e.startHost("re", "host", hostOptions{video: synth.VideoConfig{FirstSeq: 40000}, audio: synth.AudioConfig{FirstSeq: 50000}})
	waitFor(t, 5*time.Second, "second stream", func() bool { v, a := r.counts(); return v > v1+30 && a > a1+20 })
	h2.stop()
	video, audio := r.snapshot()
	checkContinuous(t, "video across reconnect", video)
	checkContinuous(t, "audio across reconnect", audio)
	if video[v1].stamp.OrigSeq < 40000 || !video[v1].stamp.Keyframe {
		t.Fatalf("first packet after reconnect = %+v, want the new stream's keyframe", video[v1].stamp)
	}
	for {
		select {
		case m := <-viewer.Events():
			if m.Type == wire.TypeLiveEnded {
				t.Fatal("the live ended during the host's reconnect")
			}
			continue
		default:
		}
		break
	}
}

// A host who drops and does not come back ends the live after the grace period.
func TestHostGoneEndsLive(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.HostGrace = 500 * time.Millisecond })
	viewer := e.join("gone", "viewer", auth.RoleViewer, nil)
	h := e.startHost("gone", "host", hostOptions{})
	nextEvent(t, viewer, wire.TypeLiveStarted, 5*time.Second)
	h.stop()
	h.c.Close()
	ev := nextEvent(t, viewer, wire.TypeLiveEnded, 5*time.Second)
	if ev.Live == nil || ev.Live.EndReason != wire.EndHostLeft {
		t.Fatalf("live_ended = %+v, want reason %s", ev.Live, wire.EndHostLeft)
	}
}

// Shutting the server down ends the live and tells everyone before closing.
func TestShutdownTellsParticipants(t *testing.T) {
	e := newEnv(t)
	viewer := e.join("bye", "viewer", auth.RoleViewer, nil)
	h := e.startHost("bye", "host", hostOptions{})
	nextEvent(t, viewer, wire.TypeLiveStarted, 5*time.Second)
	h.stop()
	if err := e.node.Shutdown(); err != nil {
		t.Fatal(err)
	}
	ended := nextEvent(t, viewer, wire.TypeLiveEnded, 5*time.Second)
	if ended.Live.EndReason != wire.EndShutdown {
		t.Fatalf("live ended for %q, want %q", ended.Live.EndReason, wire.EndShutdown)
	}
	nextEvent(t, viewer, wire.TypeServerShutdown, 5*time.Second)
	select {
	case <-viewer.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("viewer connection still open after shutdown")
	}
	if !errors.Is(viewer.Err(), client.ErrServerShutdown) {
		t.Fatalf("viewer ended with %v, want server shutdown", viewer.Err())
	}
}

func getJSON(t *testing.T, url, token string, wantStatus int, into any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != wantStatus {
		t.Fatalf("GET %s: status %d, want %d", url, resp.StatusCode, wantStatus)
	}
	if into != nil {
		if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
	}
}

// Joining again with the same identity replaces the old connection without the
// viewer count dipping, and joined is always the first message, echoing the id.
func TestRejoinReplacesConnection(t *testing.T) {
	e := newEnv(t)
	h := e.join("rejoin", "host", auth.RoleHost, nil)
	first := e.raw()
	first.sendJSON(wire.Message{Type: wire.TypeJoin, ID: "j1", Token: e.token("rejoin", "alice", auth.RoleViewer)})
	if m := first.nextAny(); m.Type != wire.TypeJoined || m.ID != "j1" {
		t.Fatalf("first message = %s id %q, want joined id j1", m.Type, m.ID)
	}
	waitCount(t, h, 1)

	second := e.raw()
	second.sendJSON(wire.Message{Type: wire.TypeJoin, ID: "j2", Token: e.token("rejoin", "alice", auth.RoleViewer)})
	if m := second.nextAny(); m.Type != wire.TypeJoined || m.ID != "j2" || m.Joined.ViewerCount != 1 {
		t.Fatalf("second join got %s id %q %+v", m.Type, m.ID, m.Joined)
	}
	first.expectError(wire.CodeReplaced, true)

	// Over the next throttle window the host must not see the count change.
	deadline := time.After(1500 * time.Millisecond)
	for {
		select {
		case m := <-h.Events():
			if m.Type == wire.TypeViewerCount {
				t.Fatalf("viewer count changed to %d on a rejoin", *m.Count)
			}
			continue
		case <-deadline:
		}
		break
	}
	info, ok := e.node.Rooms().Room("rejoin")
	if !ok || info.Viewers != 1 || info.Participants != 2 {
		t.Fatalf("room after rejoin = %+v", info)
	}
}

// /metrics serves the process and Go collectors the load generator reads.
func TestMetricsEndpoint(t *testing.T) {
	e := newEnv(t)
	resp, err := http.Get(e.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, name := range []string{"process_cpu_seconds_total", "go_goroutines"} {
		if !strings.Contains(string(body), "\n"+name+" ") {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

// Live records are stored durably: a restarted server still lists them.
func TestLiveRecordSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	inDir := func(c *server.Config) { c.DataDir = dir }
	e := newEnv(t, inDir)
	h := e.startHost("keep", "host", hostOptions{})
	time.Sleep(300 * time.Millisecond)
	if err := h.c.EndLive(); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, h.c, wire.TypeLiveEnded, 5*time.Second)
	h.stop()
	if err := e.node.Shutdown(); err != nil {
		t.Fatal(err)
	}

	again := newEnv(t, inDir)
	var body struct {
		Lives []room.LiveRecord `json:"lives"`
	}
	getJSON(t, again.url+"/v1/rooms/keep/lives", again.token("keep", "v", auth.RoleViewer), http.StatusOK, &body)
	if len(body.Lives) != 1 || body.Lives[0].Host != "host" || body.Lives[0].EndReason != wire.EndHostEnded {
		t.Fatalf("lives after restart = %+v", body.Lives)
	}
}
