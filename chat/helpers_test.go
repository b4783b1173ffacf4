package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is an in-memory Recipient that records every frame it is sent. Its
// Buffered level is set by the test; while stalled it reports a huge backlog and
// its Send blocks, so a hub that called it would hang the test.
type recorder struct {
	mu       sync.Mutex
	frames   [][]byte
	buffered atomic.Uint64
	stalled  atomic.Bool
	calls    atomic.Int64
	unblock  chan struct{}
}

func newRecorder() *recorder { return &recorder{unblock: make(chan struct{})} }

func (r *recorder) Send(b []byte) error {
	r.calls.Add(1)
	if r.stalled.Load() {
		<-r.unblock
	}
	r.mu.Lock()
	r.frames = append(r.frames, b)
	r.mu.Unlock()
	return nil
}

func (r *recorder) Buffered() uint64 {
	if r.stalled.Load() {
		return 1 << 40
	}
	return r.buffered.Load()
}

// event is any server frame, decoded.
type event struct {
	Type     string     `json:"type"`
	ID       string     `json:"id"`
	Messages []Message  `json:"messages"`
	Seq      uint64     `json:"seq"`
	MsgID    string     `json:"msg_id"`
	From     uint64     `json:"from"`
	To       uint64     `json:"to"`
	Seconds  *int64     `json:"seconds"`
	Identity string     `json:"identity"`
	Until    *time.Time `json:"until"`
	Error    *Error     `json:"error"`
}

func (r *recorder) events(t testing.TB) []event {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]event, 0, len(r.frames))
	for _, b := range r.frames {
		var e event
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatalf("frame %q is not JSON: %v", b, err)
		}
		out = append(out, e)
	}
	return out
}

func (r *recorder) frameCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.frames)
}

// stream returns the Seqs of the room's messages in the order received (history
// pages, which carry an id, excluded).
func (r *recorder) stream(t testing.TB) []uint64 {
	var seqs []uint64
	for _, e := range r.events(t) {
		if e.Type == TypeMessages && e.ID == "" {
			for _, m := range e.Messages {
				seqs = append(seqs, m.Seq)
			}
		}
	}
	return seqs
}

func (r *recorder) ofType(t testing.TB, typ string) []event {
	var out []event
	for _, e := range r.events(t) {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// lastError returns the newest error frame, or nil.
func (r *recorder) lastError(t testing.TB) *event {
	errs := r.ofType(t, TypeError)
	if len(errs) == 0 {
		return nil
	}
	return &errs[len(errs)-1]
}

// fakeClock is a settable clock shared by the hub and the MemoryStore.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newTestHub returns a hub on a fresh MemoryStore, closed when the test ends.
func newTestHub(t testing.TB, cfg Config) (*Hub, *MemoryStore) {
	t.Helper()
	st, ok := cfg.Store.(*MemoryStore)
	if cfg.Store == nil {
		st = NewMemoryStore()
		cfg.Store = st
		ok = true
	}
	if ok && cfg.Clock != nil {
		st.Now = cfg.Clock
	}
	h := NewHub(cfg)
	t.Cleanup(h.Close)
	return h, st
}

func join(t testing.TB, h *Hub, room, identity string, host bool) (*Member, *recorder) {
	t.Helper()
	rec := newRecorder()
	m, err := h.Join(context.Background(), room, Participant{Identity: identity, Name: "name-" + identity, Host: host}, rec)
	if err != nil {
		t.Fatalf("join %s as %s: %v", room, identity, err)
	}
	return m, rec
}

// do sends one client request built from v and returns Handle's error.
func do(t testing.TB, m *Member, v any) error {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return m.Handle(context.Background(), b)
}

func send(t testing.TB, m *Member, id, text string) error {
	t.Helper()
	return do(t, m, map[string]any{"type": "send", "id": id, "text": text})
}

func mustSend(t testing.TB, m *Member, text string) {
	t.Helper()
	if err := send(t, m, "", text); err != nil {
		t.Fatalf("send %q: %v", text, err)
	}
}

// code returns the protocol error code of err, or "" for nil.
func code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err != nil {
		return fmt.Sprintf("non-protocol error %v", err)
	}
	return ""
}

// eventually polls cond until it holds or 10 s pass. Only the upper bound is time:
// what is checked is always an ordering or a count.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// roomOf returns the hub's live room object, for tests that drive the flusher.
func roomOf(t testing.TB, h *Hub, name string) *room {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rooms[name]
	if r == nil {
		t.Fatalf("room %s not found", name)
	}
	return r
}

// contiguous checks seqs is from, from+1, ..., to.
func contiguous(seqs []uint64, from, to uint64) error {
	if uint64(len(seqs)) != to-from+1 {
		return fmt.Errorf("got %d messages, want %d (%d..%d)", len(seqs), to-from+1, from, to)
	}
	for i, s := range seqs {
		if s != from+uint64(i) {
			return fmt.Errorf("message %d has seq %d, want %d", i, s, from+uint64(i))
		}
	}
	return nil
}
