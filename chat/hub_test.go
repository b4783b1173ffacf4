package chat

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// noLimits lifts the per-identity rate limit for tests that send many messages.
var noLimits = RateLimit{Count: -1}

func TestConcurrentMembersSeeOneOrder(t *testing.T) {
	const members, each = 20, 25
	h, _ := newTestHub(t, Config{RateLimit: noLimits, QueueLimit: 4096})
	ms := make([]*Member, members)
	recs := make([]*recorder, members)
	for i := range ms {
		ms[i], recs[i] = join(t, h, "r", fmt.Sprintf("u%d", i), false)
	}
	var wg sync.WaitGroup
	for i, m := range ms {
		wg.Go(func() {
			for j := range each {
				if err := send(t, m, fmt.Sprintf("c%d", j), fmt.Sprintf("u%d says %d", i, j)); err != nil {
					t.Errorf("send: %v", err)
				}
			}
		})
	}
	wg.Wait()
	const total = members * each
	for i, rec := range recs {
		eventually(t, "every message delivered", func() bool { return len(rec.stream(t)) >= total })
		if err := contiguous(rec.stream(t), 1, total); err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
		if acks := rec.ofType(t, TypeAck); len(acks) != each {
			t.Fatalf("member %d got %d acks, want %d", i, len(acks), each)
		}
	}
	// Same order means the same message at every Seq for everyone.
	want := messagesOf(t, recs[0])
	for i, rec := range recs[1:] {
		if got := messagesOf(t, rec); !slices.Equal(got, want) {
			t.Fatalf("member %d saw a different sequence of messages", i+1)
		}
	}
	// Each sender's own messages appear in the order it sent them.
	for i := range members {
		var got []string
		for _, id := range want {
			if id.from == fmt.Sprintf("u%d", i) {
				got = append(got, id.text)
			}
		}
		for j, text := range got {
			if text != fmt.Sprintf("u%d says %d", i, j) {
				t.Fatalf("u%d's message %d is %q", i, j, text)
			}
		}
	}
}

type seen struct{ from, text, id string }

func messagesOf(t testing.TB, rec *recorder) []seen {
	var out []seen
	for _, e := range rec.ofType(t, TypeMessages) {
		for _, m := range e.Messages {
			out = append(out, seen{m.From, m.Text, m.ID})
		}
	}
	return out
}

func TestJoinBackfillsNewestMessages(t *testing.T) {
	h, _ := newTestHub(t, Config{})
	for i := range 70 {
		if _, err := h.System(context.Background(), "r", fmt.Sprintf("m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	_, rec := join(t, h, "r", "late", false)
	evs := rec.events(t)
	if len(evs) != 1 || evs[0].Type != TypeMessages {
		t.Fatalf("a join should send exactly one backfill frame first, got %+v", evs)
	}
	if err := contiguous(rec.stream(t), 21, 70); err != nil {
		t.Fatal(err)
	}
	if m := evs[0].Messages[0]; m.Kind != KindSystem || m.Text != "m20" || m.Room != "r" {
		t.Fatalf("backfill starts with %+v", m)
	}
}

// TestJoinSeamUnderConcurrentAppends joins members while messages are being
// stored: each must get every message from its backfill on, once, in order.
func TestJoinSeamUnderConcurrentAppends(t *testing.T) {
	const total, joiners = 400, 40
	h, _ := newTestHub(t, Config{QueueLimit: 4096})
	_, first := join(t, h, "r", "anchor", false) // keeps the room alive throughout
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range total {
			if _, err := h.System(context.Background(), "r", fmt.Sprintf("m%d", i)); err != nil {
				t.Errorf("system: %v", err)
			}
		}
	})
	recs := make([]*recorder, joiners)
	for i := range joiners {
		wg.Go(func() {
			time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
			_, recs[i] = join(t, h, "r", fmt.Sprintf("j%d", i), false)
		})
	}
	wg.Wait()
	for i, rec := range append(recs, first) {
		eventually(t, "delivery", func() bool {
			s := rec.stream(t)
			return len(s) > 0 && s[len(s)-1] == total
		})
		s := rec.stream(t)
		if err := contiguous(s, s[0], total); err != nil {
			t.Fatalf("joiner %d: %v", i, err)
		}
		if s[0] > 1 && total-s[0]+1 < 50 {
			t.Fatalf("joiner %d: backfill started at %d, fewer than HistoryOnJoin before the end", i, s[0])
		}
		if gaps := rec.ofType(t, TypeGap); len(gaps) > 0 {
			t.Fatalf("joiner %d got gaps %+v", i, gaps)
		}
	}
}

func TestLargeRoomBatchesAndDeliversEverything(t *testing.T) {
	const members, total = 150, 200
	h, _ := newTestHub(t, Config{LargeRoom: 100, BatchInterval: 5 * time.Millisecond, QueueLimit: 4096})
	recs := make([]*recorder, members)
	for i := range recs {
		_, recs[i] = join(t, h, "big", fmt.Sprintf("v%d", i), false)
	}
	for i := range total {
		if _, err := h.System(context.Background(), "big", fmt.Sprintf("m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i, rec := range recs {
		eventually(t, "batched delivery", func() bool { return len(rec.stream(t)) >= total })
		if err := contiguous(rec.stream(t), 1, total); err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
		if n := rec.frameCount(); n > total/2 {
			t.Fatalf("member %d got %d frames for %d messages: not batched", i, n, total)
		}
	}
}

func TestFramesSplitAtMaxFrameBytes(t *testing.T) {
	h, _ := newTestHub(t, Config{MaxFrameBytes: 600, LargeRoom: 1, BatchInterval: time.Hour})
	_, rec := join(t, h, "r", "a", false)
	join(t, h, "r", "b", false)
	for i := range 30 {
		if _, err := h.System(context.Background(), "r", fmt.Sprintf("message number %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	roomOf(t, h, "r").flush()
	if err := contiguous(rec.stream(t), 1, 30); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.frames) < 5 {
		t.Fatalf("30 messages in %d frames of at most 600 bytes", len(rec.frames))
	}
	for _, f := range rec.frames {
		if len(f) > 600 {
			t.Fatalf("frame of %d bytes over the 600-byte cap", len(f))
		}
	}
}

// TestMessagesStoredElsewhereAreReadBack: a Seq jump (another node appended) is
// filled from the store, so members see no hole.
func TestMessagesStoredElsewhereAreReadBack(t *testing.T) {
	h, st := newTestHub(t, Config{})
	_, rec := join(t, h, "r", "a", false)
	h.System(context.Background(), "r", "one")
	for _, text := range []string{"two", "three"} {
		if _, err := st.AppendChat(context.Background(), Message{Room: "r", Text: text, Kind: KindSystem}); err != nil {
			t.Fatal(err)
		}
	}
	h.System(context.Background(), "r", "four")
	eventually(t, "delivery", func() bool { return len(rec.stream(t)) >= 4 })
	if err := contiguous(rec.stream(t), 1, 4); err != nil {
		t.Fatal(err)
	}
}

func TestRoomEndsWithLastMemberAndHubClose(t *testing.T) {
	h, _ := newTestHub(t, Config{})
	a, _ := join(t, h, "r", "a", false)
	b, _ := join(t, h, "r", "b", false)
	r := roomOf(t, h, "r")
	a.Leave()
	a.Leave() // idempotent
	select {
	case <-r.quit:
		t.Fatal("room stopped while a member remains")
	default:
	}
	b.Leave()
	select {
	case <-r.quit:
	default:
		t.Fatal("room not stopped after its last member left")
	}
	h.mu.Lock()
	n := len(h.rooms)
	h.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d rooms left", n)
	}
	if err := do(t, b, map[string]any{"type": "send", "text": "hi"}); code(err) != CodeClosed {
		t.Fatalf("Handle after Leave: %v", err)
	}
	// A new join makes a new room that still has the history.
	c, rec := join(t, h, "r", "c", false)
	mustSend(t, c, "hello again")
	eventually(t, "delivery", func() bool { return len(rec.stream(t)) == 1 })
	h.Close()
	if _, err := h.Join(context.Background(), "r", Participant{Identity: "d"}, newRecorder()); code(err) != CodeClosed {
		t.Fatalf("Join after Close: %v", err)
	}
	if err := send(t, c, "", "after close"); code(err) != CodeClosed {
		t.Fatalf("Handle after Close: %v", err)
	}
}
