package loadgen

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestChatPeerHandle(t *testing.T) {
	env := newChatEnv(Config{Chatters: 1, ChatRate: 1, JoinTimeout: time.Second, Duration: time.Second})
	l := env.ledger
	t0 := time.Unix(1_800_000_000, 0)
	n0, id0, text0 := l.add("viewer-00000", t0)
	_, id1, text1 := l.add("viewer-00000", t0.Add(time.Second))
	rx := newChatPeer(env, "viewer-00001", -1, true, 1)
	deaf := newChatPeer(env, "viewer-00000", 0, false, 2) // a chatter outside the receiver sample

	msgs := func(texts ...string) []byte {
		type m struct {
			Seq  int    `json:"seq"`
			From string `json:"from"`
			Text string `json:"text"`
			Kind string `json:"kind"`
		}
		var ms []m
		for i, s := range texts {
			kind := chatKindUser
			if s == "live started" {
				kind = "system"
			}
			ms = append(ms, m{Seq: i + 1, From: "viewer-00000", Text: s, Kind: kind})
		}
		b, _ := json.Marshal(map[string]any{"type": "messages", "messages": ms})
		return b
	}
	for _, p := range []*chatPeer{rx, deaf} {
		// Backfill of an earlier run and a system message, then ours; one again.
		p.handle(msgs("live started", "lg 000000000000 3 from viewer-00009", text0), t0.Add(40*time.Millisecond))
		p.handle(msgs(text0, text1), t0.Add(time.Second+20*time.Millisecond))
		p.handle([]byte(`{"type":"gap","from":7,"to":9}`), t0.Add(2*time.Second))
		p.handle([]byte(`not json`), t0)
	}
	deaf.handle([]byte(fmt.Sprintf(`{"type":"ack","id":%q,"seq":3,"msg_id":"x"}`, id0)), t0.Add(7*time.Millisecond))
	deaf.handle([]byte(fmt.Sprintf(`{"type":"error","id":%q,"error":{"code":"duplicate","message":"no"}}`, id1)), t0.Add(time.Second))
	deaf.handle([]byte(`{"type":"ack","id":"h1"}`), t0)

	o := rx.snapshot()
	if o.got.count() != 2 || !o.got.has(n0) || o.dups != 1 || o.gapMsgs != 3 {
		t.Fatalf("receiver got %v, dups %d, gap %d", o.got, o.dups, o.gapMsgs)
	}
	if len(o.latencyMs) != 2 || o.latencyMs[0] != 40 || o.latencyMs[1] != 20 {
		t.Fatalf("latency %v, want [40 20]", o.latencyMs)
	}
	if d := deaf.snapshot(); d.got.count() != 0 || d.gapMsgs != 0 || len(d.latencyMs) != 0 {
		t.Fatalf("non-receiver recorded deliveries: %+v", d)
	}
	s := l.snapshot()
	if s.msgs[0].state != chatAcked || s.msgs[1].state != chatRejected || s.msgs[1].code != "duplicate" {
		t.Fatalf("ledger %+v", s.msgs)
	}
}

func TestChatSchedule(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	env := &chatEnv{rate: 2, chatters: 4, start: t0, window: 10 * time.Second}
	interval := 500 * time.Millisecond
	var all []time.Time
	for c := range 4 {
		s := newChatSchedule(env, c, t0)
		var last time.Time
		n := 0
		for at, ok := s.next(); ok; at, ok = s.next() {
			slot := t0.Add(time.Duration(c)*interval/4 + interval/8 + time.Duration(n)*interval)
			if d := at.Sub(slot); d < -interval/4 || d > interval/4 {
				t.Fatalf("chatter %d send %d at %v, %v from its slot", c, n, at.Sub(t0), d)
			}
			if at.Before(t0) || !at.Before(t0.Add(env.window)) || (n > 0 && !at.After(last)) {
				t.Fatalf("chatter %d send %d at %v (previous %v)", c, n, at.Sub(t0), last.Sub(t0))
			}
			last = at
			all = append(all, at)
			n++
		}
		if n != 20 {
			t.Fatalf("chatter %d sends %d messages in 10 s at 2/s, want 20", c, n)
		}
	}
	// A chatter whose channel opened mid-window does not catch up.
	late := newChatSchedule(env, 0, t0.Add(5100*time.Millisecond))
	n := 0
	for _, ok := late.next(); ok; _, ok = late.next() {
		n++
	}
	if n != 9 {
		t.Fatalf("late chatter sends %d messages, want 9", n)
	}
	if _, ok := newChatSchedule(&chatEnv{start: t0, window: time.Second}, 0, t0).next(); ok {
		t.Fatal("a zero rate sends")
	}
}

// fakeChat is a chat channel whose server acks and delivers every send at
// once, like the SFU with one member.
type fakeChat struct {
	ready, done chan struct{}
	in          chan []byte
	mu          sync.Mutex
	sent        []string
}

func newFakeChat() *fakeChat {
	return &fakeChat{ready: make(chan struct{}), done: make(chan struct{}), in: make(chan []byte, 64)}
}

func (f *fakeChat) ChatReady() <-chan struct{}  { return f.ready }
func (f *fakeChat) ChatMessages() <-chan []byte { return f.in }
func (f *fakeChat) Done() <-chan struct{}       { return f.done }
func (f *fakeChat) DroppedChat() uint64         { return 0 }
func (f *fakeChat) SendChat(b []byte) error {
	var req struct{ ID, Text string }
	if err := json.Unmarshal(b, &req); err != nil {
		return err
	}
	f.mu.Lock()
	f.sent = append(f.sent, req.Text)
	f.mu.Unlock()
	f.in <- []byte(fmt.Sprintf(`{"type":"ack","id":%q}`, req.ID))
	msg, _ := json.Marshal(map[string]any{"type": "messages", "messages": []map[string]string{{"text": req.Text, "kind": "user"}}})
	f.in <- msg
	return nil
}

func TestChatPeerRun(t *testing.T) {
	env := newChatEnv(Config{Chatters: 1, ChatRate: 20, JoinTimeout: time.Second, Duration: 300 * time.Millisecond})
	p := newChatPeer(env, "viewer-00000", 0, true, 1)
	c := newFakeChat()
	life := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.run(c, life)
	}()
	close(c.ready)
	time.Sleep(20 * time.Millisecond)
	env.begin(time.Now())
	time.Sleep(env.window)
	env.end()
	time.Sleep(100 * time.Millisecond) // sends have stopped; replies drained
	close(life)
	<-done

	sent, acked, pending := env.ledger.counts()
	if sent < 5 || sent > 7 || acked != sent || pending != 0 {
		t.Fatalf("sent %d acked %d pending %d in 300 ms at 20/s", sent, acked, pending)
	}
	o := p.snapshot()
	if o.readyAt.IsZero() || o.got.count() != sent || len(o.latencyMs) != sent || !o.endedAt.IsZero() {
		t.Fatalf("outcome %+v", o)
	}
	seen := map[string]bool{}
	for _, s := range c.sent {
		if seen[s] {
			t.Fatalf("text %q sent twice", s)
		}
		seen[s] = true
	}
}

func TestChatPeerNoChannel(t *testing.T) {
	env := newChatEnv(Config{Chatters: 1, ChatRate: 1, JoinTimeout: 50 * time.Millisecond})
	p := newChatPeer(env, "viewer-00000", 0, true, 1)
	start := time.Now()
	p.run(newFakeChat(), make(chan struct{})) // never ready: gives up after the join timeout
	if d := time.Since(start); d < 50*time.Millisecond || d > 5*time.Second {
		t.Fatalf("gave up after %v", d)
	}
	if !p.snapshot().readyAt.IsZero() {
		t.Fatal("ready without a channel")
	}
}

func TestSpread(t *testing.T) {
	for _, tc := range []struct{ k, n int }{{0, 5}, {1, 5}, {2, 6}, {20, 200}, {7, 7}, {3, 10}} {
		var picked []int
		for i := range tc.n {
			if idx, ok := spread(i, tc.k, tc.n); ok {
				if idx != len(picked) {
					t.Fatalf("spread(%d, %d, %d) index %d, want %d", i, tc.k, tc.n, idx, len(picked))
				}
				picked = append(picked, i)
			}
		}
		if len(picked) != tc.k {
			t.Fatalf("%d of %d: picked %v", tc.k, tc.n, picked)
		}
		if tc.k == 2 && tc.n == 6 && (picked[0] != 2 || picked[1] != 5) {
			t.Fatalf("2 of 6 picked %v, want spread [2 5]", picked)
		}
	}
}
