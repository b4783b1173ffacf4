package chat

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestViewerCannotTakeHostActions(t *testing.T) {
	h, _ := newTestHub(t, Config{})
	join(t, h, "r", "host", true)
	viewer, _ := join(t, h, "r", "viewer", false)
	_, other := join(t, h, "r", "other", false)
	mustSend(t, viewer, "hello")
	for _, req := range []map[string]any{
		{"type": "delete", "seq": 1},
		{"type": "timeout", "identity": "other", "seconds": 60},
		{"type": "kick", "identity": "other"},
		{"type": "ban", "identity": "other", "seconds": 0},
		{"type": "clear"},
		{"type": "slow_mode", "seconds": 10},
	} {
		if err := do(t, viewer, req); code(err) != CodeForbidden {
			t.Errorf("viewer %s: got %v, want forbidden", req["type"], err)
		}
	}
	roomOf(t, h, "r").flush()
	for _, e := range other.events(t) {
		if e.Type != TypeMessages {
			t.Fatalf("a forbidden action reached another member: %+v", e)
		}
	}
	if _, err := h.Join(context.Background(), "r", Participant{Identity: "other"}, newRecorder()); err != nil {
		t.Fatalf("other was sanctioned by a viewer: %v", err)
	}
}

func TestHostDelete(t *testing.T) {
	h, st := newTestHub(t, Config{})
	host, hrec := join(t, h, "r", "host", true)
	viewer, vrec := join(t, h, "r", "viewer", false)
	mustSend(t, viewer, "keep")
	mustSend(t, viewer, "remove me")
	if err := do(t, host, map[string]any{"type": "delete", "id": "d1", "seq": 2}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "deleted notice", func() bool { return len(vrec.ofType(t, TypeDeleted)) == 1 })
	if d := vrec.ofType(t, TypeDeleted)[0]; d.Seq != 2 {
		t.Fatalf("deleted %+v", d)
	}
	if acks := hrec.ofType(t, TypeAck); len(acks) != 1 || acks[0].ID != "d1" {
		t.Fatalf("host acks %+v", acks)
	}
	hist, _ := st.ChatHistory(context.Background(), "r", 0, 10)
	if len(hist) != 1 || hist[0].Text != "keep" {
		t.Fatalf("history after delete: %+v", hist)
	}
	// A deleted message is not in a later joiner's backfill, and cannot be deleted twice.
	_, late := join(t, h, "r", "late", false)
	if s := late.stream(t); len(s) != 1 || s[0] != 1 {
		t.Fatalf("late joiner backfill %v", s)
	}
	if err := do(t, host, map[string]any{"type": "delete", "seq": 2}); code(err) != CodeNotFound {
		t.Fatalf("second delete: %v", err)
	}
	if err := do(t, host, map[string]any{"type": "delete", "seq": 42}); code(err) != CodeNotFound {
		t.Fatalf("delete of unknown seq: %v", err)
	}
}

// TestDeletedMessageNeverFollowsItsNotice: a member held back while a message is
// deleted never receives it, even though its frame may already have been built.
func TestDeletedMessageNeverFollowsItsNotice(t *testing.T) {
	h, _ := newTestHub(t, Config{LargeRoom: 1, BatchInterval: time.Hour})
	host, _ := join(t, h, "r", "host", true)
	_, slow := join(t, h, "r", "slow", false)
	r := roomOf(t, h, "r")
	slow.buffered.Store(1 << 30)
	mustSend(t, host, "one")
	mustSend(t, host, "two")
	r.flush() // frames for 1..2 built; slow is held back
	if err := do(t, host, map[string]any{"type": "delete", "seq": 1}); err != nil {
		t.Fatal(err)
	}
	slow.buffered.Store(0)
	r.flush()
	var order []string
	for _, e := range slow.events(t) {
		switch e.Type {
		case TypeDeleted:
			order = append(order, "deleted")
		case TypeMessages:
			for _, m := range e.Messages {
				if m.Seq == 1 {
					order = append(order, "message 1")
				}
			}
		}
	}
	for i, o := range order {
		if o == "message 1" && i > 0 {
			t.Fatalf("message 1 arrived after its deleted notice: %v", order)
		}
	}
	if s := slow.stream(t); len(s) != 1 || s[0] != 2 {
		t.Fatalf("slow member stream %v, want [2]", s)
	}
}

func TestHostClear(t *testing.T) {
	h, st := newTestHub(t, Config{})
	host, _ := join(t, h, "r", "host", true)
	_, vrec := join(t, h, "r", "viewer", false)
	for _, text := range []string{"a", "b", "c"} {
		mustSend(t, host, text)
	}
	roomOf(t, h, "r").flush() // the viewer has 1..3 before the clear
	if err := do(t, host, map[string]any{"type": "clear"}); err != nil {
		t.Fatal(err)
	}
	mustSend(t, host, "after")
	eventually(t, "message after clear", func() bool { return len(vrec.stream(t)) == 4 })
	var seenCleared bool
	for _, e := range vrec.events(t) {
		if e.Type == TypeCleared {
			seenCleared = true
		}
		if e.Type == TypeMessages && e.Messages[len(e.Messages)-1].Text == "after" && !seenCleared {
			t.Fatal("the message after clear arrived before the cleared notice")
		}
	}
	hist, _ := st.ChatHistory(context.Background(), "r", 0, 10)
	if len(hist) != 1 || hist[0].Seq != 4 {
		t.Fatalf("history after clear: %+v", hist)
	}
	_, late := join(t, h, "r", "late", false)
	if s := late.stream(t); len(s) != 1 || s[0] != 4 {
		t.Fatalf("late joiner backfill %v", s)
	}
}

func TestHostSlowModeAnnounced(t *testing.T) {
	h, _ := newTestHub(t, Config{})
	host, _ := join(t, h, "r", "host", true)
	_, vrec := join(t, h, "r", "viewer", false)
	if err := do(t, host, map[string]any{"type": "slow_mode", "seconds": 10}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "slow_mode notice", func() bool { return len(vrec.ofType(t, TypeSlowMode)) == 1 })
	if s := vrec.ofType(t, TypeSlowMode)[0].Seconds; s == nil || *s != 10 {
		t.Fatalf("slow_mode seconds %v", s)
	}
	_, late := join(t, h, "r", "late", false)
	if n := late.ofType(t, TypeSlowMode); len(n) != 1 {
		t.Fatalf("a joiner is not told of the slow mode: %+v", late.events(t))
	}
	for _, bad := range []any{-1, 8 * 24 * 3600, "ten"} {
		if err := do(t, host, map[string]any{"type": "slow_mode", "seconds": bad}); code(err) != CodeBadMessage {
			t.Fatalf("slow_mode %v: %v", bad, err)
		}
	}
}

func TestHostTimeoutAnnounced(t *testing.T) {
	clk := newFakeClock()
	h, _ := newTestHub(t, Config{Clock: clk.Now})
	host, _ := join(t, h, "r", "host", true)
	bob, brec := join(t, h, "r", "bob", false)
	if err := do(t, host, map[string]any{"type": "timeout", "identity": "bob", "seconds": 60}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "timed_out notice", func() bool { return len(brec.ofType(t, TypeTimedOut)) == 1 })
	n := brec.ofType(t, TypeTimedOut)[0]
	if n.Identity != "bob" || n.Until == nil || !n.Until.Equal(clk.Now().Add(time.Minute)) {
		t.Fatalf("timed_out notice %+v", n)
	}
	if err := send(t, bob, "", "hi"); code(err) != CodeTimedOut {
		t.Fatalf("timed-out send: %v", err)
	}
	for _, req := range []map[string]any{
		{"type": "timeout", "identity": "bob"},                 // no seconds
		{"type": "timeout", "identity": "bob", "seconds": 0},   // zero
		{"type": "timeout", "seconds": 10},                     // no identity
		{"type": "timeout", "identity": "host", "seconds": 10}, // itself
	} {
		if err := do(t, host, req); code(err) != CodeBadMessage && code(err) != CodeForbidden {
			t.Fatalf("timeout %v: %v", req, err)
		}
	}
}

func TestHostKickAndBan(t *testing.T) {
	clk := newFakeClock()
	h, _ := newTestHub(t, Config{Clock: clk.Now})
	var mu sync.Mutex
	var kicked []string
	h.OnKick(func(room, identity string) {
		mu.Lock()
		kicked = append(kicked, room+"/"+identity)
		mu.Unlock()
	})
	host, _ := join(t, h, "r", "host", true)
	bob, brec := join(t, h, "r", "bob", false)
	bob2, _ := join(t, h, "r", "bob", false) // a second connection of the same identity

	if err := do(t, host, map[string]any{"type": "kick", "identity": "bob"}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*Member{bob, bob2} {
		if err := send(t, m, "", "still here?"); code(err) != CodeClosed {
			t.Fatalf("kicked member could still send: %v", err)
		}
	}
	bob.Leave() // the room layer's disconnect: a no-op now
	mustSend(t, host, "bob is gone")
	roomOf(t, h, "r").flush()
	if s := brec.stream(t); len(s) != 0 {
		t.Fatalf("kicked member still receives: %v", s)
	}
	// A kick is not a ban.
	bob, _ = join(t, h, "r", "bob", false)

	if err := do(t, host, map[string]any{"type": "ban", "identity": "bob", "seconds": 3600}); err != nil {
		t.Fatal(err)
	}
	if err := send(t, bob, "", "x"); code(err) != CodeClosed {
		t.Fatalf("banned member could still send: %v", err)
	}
	if _, err := h.Join(context.Background(), "r", Participant{Identity: "bob"}, newRecorder()); code(err) != CodeBanned {
		t.Fatalf("banned rejoin: %v", err)
	}
	clk.Advance(time.Hour)
	join(t, h, "r", "bob", false) // the ban expired

	if err := do(t, host, map[string]any{"type": "ban", "identity": "bob"}); err != nil { // forever
		t.Fatal(err)
	}
	clk.Advance(10 * 365 * 24 * time.Hour)
	if _, err := h.Join(context.Background(), "r", Participant{Identity: "bob"}, newRecorder()); code(err) != CodeBanned {
		t.Fatalf("rejoin after a permanent ban: %v", err)
	}
	// The ban is in the store: a fresh hub on it refuses bob too.
	h2 := NewHub(Config{Store: h.cfg.Store, Clock: clk.Now})
	defer h2.Close()
	if _, err := h2.Join(context.Background(), "r", Participant{Identity: "bob"}, newRecorder()); code(err) != CodeBanned {
		t.Fatalf("rejoin on another hub: %v", err)
	}

	if err := do(t, host, map[string]any{"type": "kick", "identity": "host"}); code(err) != CodeForbidden {
		t.Fatalf("host kicking itself: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"r/bob", "r/bob", "r/bob"}; len(kicked) != len(want) {
		t.Fatalf("OnKick calls %v, want %v", kicked, want)
	}
}

func TestReportStored(t *testing.T) {
	clk := newFakeClock()
	h, st := newTestHub(t, Config{Clock: clk.Now})
	_, _ = join(t, h, "r", "host", true)
	viewer, vrec := join(t, h, "r", "viewer", false)
	mustSend(t, viewer, "something rude")
	if err := do(t, viewer, map[string]any{"type": "report", "id": "r1", "seq": 1, "reason": "spam"}); err != nil {
		t.Fatal(err)
	}
	reps := st.Reports("r")
	want := Report{Room: "r", Reporter: "viewer", Reason: "spam", Seq: 1, At: clk.Now()}
	if len(reps) != 1 || reps[0] != want {
		t.Fatalf("reports %+v, want %+v", reps, want)
	}
	if acks := vrec.ofType(t, TypeAck); len(acks) != 2 || acks[1].ID != "r1" {
		t.Fatalf("acks %+v", acks)
	}
	for _, req := range []map[string]any{
		{"type": "report", "seq": 7, "reason": "spam"},
		{"type": "report", "seq": 0},
	} {
		if err := do(t, viewer, req); code(err) != CodeNotFound && code(err) != CodeBadMessage {
			t.Fatalf("report %v: %v", req, err)
		}
	}
	if len(st.Reports("r")) != 1 {
		t.Fatal("a bad report was stored")
	}
}
