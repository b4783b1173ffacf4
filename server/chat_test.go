package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/chat"
	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/server"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// chatFrame is what the server sends on the chat data channel.
type chatFrame struct {
	Type     string        `json:"type"`
	ID       string        `json:"id"`
	Seq      uint64        `json:"seq"`
	Messages []chatMessage `json:"messages"`
	Error    *struct {
		Code string `json:"code"`
	} `json:"error"`
}

type chatMessage struct {
	Seq  uint64 `json:"seq"`
	From string `json:"from"`
	Text string `json:"text"`
	Kind string `json:"kind"`
}

// chatter reads a participant's chat channel in the background.
type chatter struct {
	c      *client.Client
	mu     sync.Mutex
	frames []chatFrame
}

func newChatter(t *testing.T, c *client.Client) *chatter {
	t.Helper()
	select {
	case <-c.ChatReady():
	case <-time.After(10 * time.Second):
		t.Fatal("chat channel did not open")
	}
	ch := &chatter{c: c}
	// Reader: owned by the test, ends when the client's channel closes with it.
	go func() {
		for {
			select {
			case b := <-c.ChatMessages():
				var f chatFrame
				if json.Unmarshal(b, &f) == nil {
					ch.mu.Lock()
					ch.frames = append(ch.frames, f)
					ch.mu.Unlock()
				}
			case <-c.Done():
				return
			}
		}
	}()
	return ch
}

func (ch *chatter) send(t *testing.T, m map[string]any) {
	t.Helper()
	b, _ := json.Marshal(m)
	if err := ch.c.SendChat(b); err != nil {
		t.Fatal(err)
	}
}

// messages returns the user messages received, in arrival order.
func (ch *chatter) messages() []chatMessage {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	var out []chatMessage
	for _, f := range ch.frames {
		if f.Type == "messages" && f.ID == "" {
			for _, m := range f.Messages {
				if m.Kind == "user" {
					out = append(out, m)
				}
			}
		}
	}
	return out
}

func (ch *chatter) find(typ, id string) (chatFrame, bool) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	for _, f := range ch.frames {
		if f.Type == typ && f.ID == id {
			return f, true
		}
	}
	return chatFrame{}, false
}

// Twenty participants chat at once over their data channels: every message is
// acknowledged after it is stored, everyone receives all of them in the same
// order, a late joiner gets them as backfill, and the history survives a restart.
func TestChatEndToEnd(t *testing.T) {
	dir := t.TempDir()
	inDir := func(c *server.Config) { c.DataDir = dir }
	e := newEnv(t, inDir)
	var all []*chatter
	all = append(all, newChatter(t, e.join("talk", "host", auth.RoleHost, nil)))
	for i := 0; i < 19; i++ { // 20 participants
		all = append(all, newChatter(t, e.join("talk", fmt.Sprintf("v%d", i), auth.RoleViewer, nil)))
	}
	const each = 5
	var wg sync.WaitGroup
	for i, ch := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < each; j++ {
				ch.send(t, map[string]any{"type": "send", "id": fmt.Sprintf("m%d", j), "text": fmt.Sprintf("hello %d from %d", j, i)})
			}
		}()
	}
	wg.Wait()
	total := len(all) * each
	for i, ch := range all {
		deadline := time.Now().Add(10 * time.Second)
		for len(ch.messages()) < total && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if n := len(ch.messages()); n < total {
			ch.mu.Lock()
			t.Fatalf("participant %d received %d of %d messages; frames: %+v", i, n, total, ch.frames)
			ch.mu.Unlock()
		}
		for j := 0; j < each; j++ {
			if ack, ok := ch.find("ack", fmt.Sprintf("m%d", j)); !ok || ack.Seq == 0 {
				t.Fatalf("participant %d: no ack with a seq for m%d", i, j)
			}
		}
	}
	ref := all[0].messages()
	for i, ch := range all {
		got := ch.messages()
		if len(got) != total {
			t.Fatalf("participant %d got %d messages, want %d", i, len(got), total)
		}
		for k := range got {
			if got[k] != ref[k] {
				t.Fatalf("participant %d: message %d is %+v, participant 0 has %+v", i, k, got[k], ref[k])
			}
			if k > 0 && got[k].Seq <= got[k-1].Seq {
				t.Fatalf("participant %d: seq goes %d -> %d", i, got[k-1].Seq, got[k].Seq)
			}
		}
	}

	// A late joiner's backfill is the newest 50 messages, in order.
	late := newChatter(t, e.join("talk", "late", auth.RoleViewer, nil))
	const backfill = 50
	waitFor(t, 5*time.Second, "late joiner's backfill", func() bool { return len(late.messages()) >= backfill })
	if got, want := late.messages(), ref[len(ref)-backfill:]; len(got) != backfill || got[0] != want[0] || got[backfill-1] != want[backfill-1] {
		t.Fatalf("late joiner's backfill = %d messages %+v .. %+v, want the newest %d", len(got), got[0], got[len(got)-1], backfill)
	}

	// A viewer cannot moderate; the host can delete for everyone.
	all[1].send(t, map[string]any{"type": "delete", "id": "d1", "seq": ref[0].Seq})
	waitFor(t, 5*time.Second, "forbidden delete refused", func() bool {
		f, ok := all[1].find("error", "d1")
		return ok && f.Error != nil && f.Error.Code == "forbidden"
	})
	all[0].send(t, map[string]any{"type": "delete", "id": "d2", "seq": ref[0].Seq})
	for i, ch := range all[1:] {
		waitFor(t, 5*time.Second, fmt.Sprintf("viewer %d told of the delete", i), func() bool {
			ch.mu.Lock()
			defer ch.mu.Unlock()
			for _, f := range ch.frames {
				if f.Type == "deleted" && f.Seq == ref[0].Seq {
					return true
				}
			}
			return false
		})
	}

	// The history outlives the server.
	if err := e.node.Shutdown(); err != nil {
		t.Fatal(err)
	}
	again := newEnv(t, inDir)
	var page struct {
		Messages []chatMessage `json:"messages"`
	}
	getJSON(t, again.url+"/v1/rooms/talk/chat?limit=100", again.token("talk", "reader", auth.RoleViewer), http.StatusOK, &page)
	if len(page.Messages) != total-1 || page.Messages[len(page.Messages)-1] != ref[len(ref)-1] {
		t.Fatalf("history after restart has %d messages ending %+v, want %d ending %+v",
			len(page.Messages), page.Messages[len(page.Messages)-1], total-1, ref[len(ref)-1])
	}
}

// The host's kick disconnects the viewer; a ban keeps it out.
func TestChatKickAndBan(t *testing.T) {
	e := newEnv(t)
	host := newChatter(t, e.join("mod", "host", auth.RoleHost, nil))
	bob := e.join("mod", "bob", auth.RoleViewer, nil)
	newChatter(t, bob)
	host.send(t, map[string]any{"type": "ban", "identity": "bob"})
	select {
	case <-bob.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("banned viewer still connected")
	}
	var we *wire.Error
	if !asWireError(bob.Err(), &we) || we.Code != wire.CodeKicked {
		t.Fatalf("banned viewer ended with %v, want %s", bob.Err(), wire.CodeKicked)
	}
	_, err := joinErr(e, "mod", "bob", auth.RoleViewer)
	if !asWireError(err, &we) || we.Code != wire.CodeBanned {
		t.Fatalf("banned viewer rejoined: %v", err)
	}
}

// A participant who hides chat receives nothing meanwhile and gets the missed
// tail when it shows chat again; reports reach moderators through the API.
func TestChatHideAndReport(t *testing.T) {
	e := newEnv(t)
	host := newChatter(t, e.join("hide", "host", auth.RoleHost, nil))
	quiet := newChatter(t, e.join("hide", "quiet", auth.RoleViewer, nil))
	quiet.send(t, map[string]any{"type": "hide", "id": "h", "hidden": true})
	waitFor(t, 5*time.Second, "hide acknowledged", func() bool { _, ok := quiet.find("ack", "h"); return ok })
	for i := 0; i < 3; i++ {
		host.send(t, map[string]any{"type": "send", "id": fmt.Sprintf("s%d", i), "text": fmt.Sprintf("while you were away %d", i)})
	}
	waitFor(t, 5*time.Second, "host's own messages", func() bool { return len(host.messages()) == 3 })
	time.Sleep(200 * time.Millisecond) // a hidden chat would have had time to deliver
	if n := len(quiet.messages()); n != 0 {
		t.Fatalf("hidden participant received %d messages", n)
	}
	quiet.send(t, map[string]any{"type": "hide", "hidden": false})
	waitFor(t, 5*time.Second, "the missed tail", func() bool { return len(quiet.messages()) == 3 })
	if got, want := quiet.messages(), host.messages(); got[0] != want[0] || got[2] != want[2] {
		t.Fatalf("tail %+v, want %+v", got, want)
	}

	quiet.send(t, map[string]any{"type": "report", "id": "r", "seq": host.messages()[1].Seq, "reason": "spam"})
	waitFor(t, 5*time.Second, "report acknowledged", func() bool { _, ok := quiet.find("ack", "r"); return ok })
	admin, err := e.node.Minter.Mint(auth.Grant{Identity: "ops", Role: auth.RoleAdmin}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	getJSON(t, e.url+"/v1/rooms/hide/reports", e.token("hide", "quiet", auth.RoleViewer), http.StatusForbidden, nil)
	var body struct {
		Reports []struct {
			Seq      uint64 `json:"seq"`
			Reporter string `json:"reporter"`
			Reason   string `json:"reason"`
		} `json:"reports"`
	}
	getJSON(t, e.url+"/v1/rooms/hide/reports", admin, http.StatusOK, &body)
	if len(body.Reports) != 1 || body.Reports[0].Reporter != "quiet" || body.Reports[0].Seq != host.messages()[1].Seq {
		t.Fatalf("reports = %+v", body.Reports)
	}
}

// Bad chat input is refused with a reason code; nothing is stored or sent.
func TestChatBadInput(t *testing.T) {
	e := newEnv(t)
	a := newChatter(t, e.join("bad", "a", auth.RoleViewer, nil))
	b := newChatter(t, e.join("bad", "b", auth.RoleViewer, nil))
	cases := []struct {
		raw  string
		code string
	}{
		{`{"type":"send","id":"1","text":""}`, "empty"},
		{`{"type":"send","id":"2","text":"` + strings.Repeat("가", 501) + `"}`, "too_long"},
		{`{"type":"send","id":"3","text":"\ud800"}`, "invalid_utf8"},
		{`{"type":"teleport","id":"4"}`, "unknown_type"},
		{`{"type":"send","id":"5","text":7}`, "bad_message"},
		{`{"type":"clear","id":"6"}`, "forbidden"},
	}
	for _, c := range cases {
		if err := a.c.SendChat([]byte(c.raw)); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cases {
		id := fmt.Sprint(i + 1)
		waitFor(t, 5*time.Second, "error "+c.code, func() bool {
			f, ok := a.find("error", id)
			return ok && f.Error != nil && f.Error.Code == c.code
		})
	}
	if err := a.c.SendChat([]byte("{not json")); err != nil {
		t.Fatal(err)
	}
	a.send(t, map[string]any{"type": "send", "id": "ok", "text": "still here"})
	waitFor(t, 5*time.Second, "a good message after the bad ones", func() bool { return len(b.messages()) == 1 })
	if m := b.messages()[0]; m.Text != "still here" || m.Seq != 1 {
		t.Fatalf("the other participant got %+v: bad input was stored or sent", m)
	}
}

// The server's blocked-word list applies, and the live's start and end appear
// in the chat as system messages.
func TestChatBlockedWordsAndSystemMessages(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.ChatBlockedWords = []string{"spoiler"} })
	v := newChatter(t, e.join("sys", "viewer", auth.RoleViewer, nil))
	v.send(t, map[string]any{"type": "send", "id": "b", "text": "big SPOILER ahead"})
	waitFor(t, 5*time.Second, "blocked word refused", func() bool {
		f, ok := v.find("error", "b")
		return ok && f.Error != nil && f.Error.Code == "blocked_word"
	})
	h := e.startHost("sys", "host", hostOptions{})
	waitFor(t, 5*time.Second, "live started in chat", func() bool { return len(v.system()) == 1 })
	if err := h.c.EndLive(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "live ended in chat", func() bool { return len(v.system()) == 2 })
	if sys := v.system(); !strings.Contains(sys[0].Text, "started") || !strings.Contains(sys[1].Text, "ended") {
		t.Fatalf("system messages %+v", sys)
	}
	if n := len(v.messages()); n != 0 {
		t.Fatalf("%d user messages stored, want none (the blocked one was refused)", n)
	}
}

// system returns the system messages received.
func (ch *chatter) system() []chatMessage {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	var out []chatMessage
	for _, f := range ch.frames {
		for _, m := range f.Messages {
			if f.Type == "messages" && m.Kind == "system" {
				out = append(out, m)
			}
		}
	}
	return out
}

// A participant whose application stops reading its chat channel (its SCTP
// receive window fills) does not hold back anyone else: the others receive
// every message while it is stalled, and it is told of the gap afterwards.
func TestChatStalledReaderDoesNotDelayOthers(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.ChatRateLimit = chat.RateLimit{Count: -1} })
	host := newChatter(t, e.join("stall", "host", auth.RoleHost, nil))
	healthy := newChatter(t, e.join("stall", "healthy", auth.RoleViewer, nil))

	unblock := make(chan struct{})
	var stalledGot atomic.Int64
	var stalledFrames [][]byte
	var mu sync.Mutex
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stalled, err := client.Join(ctx, client.Config{
		URL: e.url, Token: e.token("stall", "stalled", auth.RoleViewer), Room: "stall", API: e.api,
		OnChat: func(b []byte) {
			if stalledGot.Add(1) == 1 {
				<-unblock // the application hangs on its first message
			}
			mu.Lock()
			stalledFrames = append(stalledFrames, append([]byte(nil), b...))
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stalled.Close() })
	var once sync.Once
	release := func() { once.Do(func() { close(unblock) }) }
	t.Cleanup(release)
	<-stalled.ChatReady()

	// About 1.8 MB of chat: far beyond what the stalled channel can buffer.
	const n = 1200
	text := strings.Repeat("가", 490) // with the index, within the 500-character cap
	for i := 0; i < n; i++ {
		host.send(t, map[string]any{"type": "send", "text": fmt.Sprintf("%d %s", i, text)})
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(healthy.messages()) < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := len(healthy.messages()); got != n {
		acks, errs := 0, map[string]int{}
		host.mu.Lock()
		for _, f := range host.frames {
			switch f.Type {
			case "ack":
				acks++
			case "error":
				errs[f.Error.Code]++
			}
		}
		host.mu.Unlock()
		t.Fatalf("healthy viewer received %d of %d; host: %d acks, errors %v, %d messages", got, n, acks, errs, len(host.messages()))
	}
	if got := stalledGot.Load(); got != 1 {
		t.Fatalf("stalled reader handled %d messages while stalled", got)
	}
	got := healthy.messages()
	for i := 1; i < len(got); i++ {
		if got[i].Seq != got[i-1].Seq+1 {
			t.Fatalf("healthy viewer: seq %d after %d", got[i].Seq, got[i-1].Seq)
		}
	}

	// Once it reads again, the stalled participant learns what it missed.
	release()
	waitFor(t, 10*time.Second, "a gap notice for the stalled reader", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, b := range stalledFrames {
			if strings.Contains(string(b), `"type":"gap"`) {
				return true
			}
		}
		return false
	})
}
