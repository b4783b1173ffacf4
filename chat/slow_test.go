package chat

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestStalledRecipientDelaysNobody: one recipient reports a huge backlog and would
// block forever in Send. The others still get every message, the sender every ack,
// and the hub never calls the stalled Send. Once it drains it gets a gap and the
// newest QueueLimit messages.
func TestStalledRecipientDelaysNobody(t *testing.T) {
	const total, queue = 300, 64
	for _, mode := range []struct {
		name  string
		large int
	}{{"small room", 100}, {"large room", 1}} {
		t.Run(mode.name, func(t *testing.T) {
			h, _ := newTestHub(t, Config{LargeRoom: mode.large, QueueLimit: queue, BatchInterval: 2 * time.Millisecond, RateLimit: noLimits})
			sender, srec := join(t, h, "r", "sender", false)
			_, stuck := join(t, h, "r", "stuck", false)
			stuck.stalled.Store(true)
			fast := make([]*recorder, 10)
			for i := range fast {
				_, fast[i] = join(t, h, "r", fmt.Sprintf("fast%d", i), false)
			}
			for i := range total {
				if err := send(t, sender, fmt.Sprintf("c%d", i), fmt.Sprintf("m%d", i)); err != nil {
					t.Fatal(err)
				}
				if (i+1)%(queue/2) == 0 {
					// Pace the sender so a fast member is never QueueLimit behind,
					// whatever the scheduler does: only the stalled one may fall back.
					for _, rec := range fast {
						eventually(t, "fast delivery", func() bool { return len(rec.stream(t)) >= i+1 })
					}
				}
			}
			for i, rec := range append(fast, srec) {
				eventually(t, "fast delivery", func() bool { return len(rec.stream(t)) >= total })
				if err := contiguous(rec.stream(t), 1, total); err != nil {
					t.Fatalf("member %d: %v", i, err)
				}
			}
			if acks := srec.ofType(t, TypeAck); len(acks) != total {
				t.Fatalf("sender got %d acks, want %d", len(acks), total)
			}
			if n := stuck.calls.Load(); n != 0 {
				t.Fatalf("the hub called Send %d times on a backed-up recipient", n)
			}

			stuck.stalled.Store(false)
			close(stuck.unblock)
			eventually(t, "the drained member catches up", func() bool {
				s := stuck.stream(t)
				return len(s) > 0 && s[len(s)-1] == total
			})
			gaps := stuck.ofType(t, TypeGap)
			if len(gaps) != 1 || gaps[0].From != 1 || gaps[0].To != total-queue {
				t.Fatalf("gaps %+v, want 1..%d", gaps, total-queue)
			}
			if err := contiguous(stuck.stream(t), total-queue+1, total); err != nil {
				t.Fatal(err)
			}
			evs := stuck.events(t)
			if evs[0].Type != TypeGap {
				t.Fatalf("the gap must come before the next delivery, got %s first", evs[0].Type)
			}
		})
	}
}

// TestStalledSenderStillAcked: the sender's own channel is backed up; its message
// is stored and reaches the others at once, and its ack waits for it to drain.
func TestStalledSenderStillAcked(t *testing.T) {
	h, _ := newTestHub(t, Config{BatchInterval: 2 * time.Millisecond})
	sender, srec := join(t, h, "r", "sender", false)
	_, other := join(t, h, "r", "other", false)
	srec.buffered.Store(1 << 30)
	if err := send(t, sender, "c1", "from a slow phone"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "delivery to the other member", func() bool { return len(other.stream(t)) == 1 })
	if n := srec.frameCount(); n != 0 {
		t.Fatalf("backed-up sender was sent %d frames", n)
	}
	srec.buffered.Store(0)
	eventually(t, "the ack once drained", func() bool { return len(srec.ofType(t, TypeAck)) == 1 })
	if a := srec.ofType(t, TypeAck)[0]; a.ID != "c1" || a.Seq != 1 || a.MsgID == "" {
		t.Fatalf("ack %+v", a)
	}
}

// TestControlQueueBounded: a member that never drains holds at most ControlLimit
// replies, however many requests it makes.
func TestControlQueueBounded(t *testing.T) {
	h, _ := newTestHub(t, Config{ControlLimit: 8})
	m, rec := join(t, h, "r", "flooder", false)
	rec.buffered.Store(1 << 30)
	for range 100 {
		m.Handle(t.Context(), []byte(`{"type":"nonsense"}`))
	}
	m.mu.Lock()
	n, lost := len(m.out), m.lost
	m.mu.Unlock()
	if n != 8 || lost != 92 {
		t.Fatalf("out queue %d (lost %d), want 8 (lost 92)", n, lost)
	}
}

// TestSendErrorStopsDelivery: a Recipient whose Send fails (channel closed) is
// skipped from then on, without disturbing the others.
func TestSendErrorStopsDelivery(t *testing.T) {
	h, _ := newTestHub(t, Config{})
	bad := &failingRecipient{}
	if _, err := h.Join(t.Context(), "r", Participant{Identity: "bad"}, bad); err != nil {
		t.Fatal(err)
	}
	host, _ := join(t, h, "r", "host", true)
	_, rec := join(t, h, "r", "ok", false)
	for i := range 5 {
		mustSend(t, host, fmt.Sprintf("m%d", i))
	}
	eventually(t, "delivery", func() bool { return len(rec.stream(t)) == 5 })
	if n := bad.calls(); n != 1 {
		t.Fatalf("failing recipient called %d times, want 1", n)
	}
}

type failingRecipient struct {
	mu sync.Mutex
	n  int
}

func (f *failingRecipient) Send([]byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	return fmt.Errorf("data channel closed")
}

func (f *failingRecipient) Buffered() uint64 { return 0 }

func (f *failingRecipient) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// TestDrainedRetriesAtOnce: with a batch interval that never comes, Drained is what
// brings a held-back member its messages.
func TestDrainedRetriesAtOnce(t *testing.T) {
	h, _ := newTestHub(t, Config{BatchInterval: time.Hour})
	host, _ := join(t, h, "r", "host", true)
	m, rec := join(t, h, "r", "slow", false)
	rec.buffered.Store(1 << 30)
	mustSend(t, host, "hello")
	roomOf(t, h, "r").flush()
	if n := rec.frameCount(); n != 0 {
		t.Fatalf("held-back member got %d frames", n)
	}
	rec.buffered.Store(0)
	m.Drained()
	eventually(t, "delivery after Drained", func() bool { return len(rec.stream(t)) == 1 })
}

// gatedStore holds every AppendChat until the test opens the gate.
type gatedStore struct {
	*MemoryStore
	gate chan struct{}
}

func (s *gatedStore) AppendChat(ctx context.Context, m Message) (Message, error) {
	<-s.gate
	return s.MemoryStore.AppendChat(ctx, m)
}

// TestAckFollowsTheStore: neither the ack nor the fan-out happens before the store
// returns, and a store that never returns ends with the caller's context.
func TestAckFollowsTheStore(t *testing.T) {
	st := &gatedStore{MemoryStore: NewMemoryStore(), gate: make(chan struct{})}
	h, _ := newTestHub(t, Config{Store: st})
	sender, srec := join(t, h, "r", "sender", false)
	_, other := join(t, h, "r", "other", false)
	done := make(chan error, 1)
	go func() { done <- send(t, sender, "c1", "wait for it") }()
	time.Sleep(20 * time.Millisecond) // give a wrong implementation time to ack early
	roomOf(t, h, "r").flush()
	if len(srec.ofType(t, TypeAck)) != 0 || len(other.stream(t)) != 0 {
		t.Fatal("acked or delivered before the store returned")
	}
	// A second sender waiting behind the first gives up with its context.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if err := sender.Handle(ctx, []byte(`{"type":"send","text":"impatient"}`)); code(err) != CodeStoreFailed {
		t.Fatalf("send with an expiring context: %v", err)
	}
	close(st.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	eventually(t, "delivery", func() bool { return len(other.stream(t)) == 1 })
	if acks := srec.ofType(t, TypeAck); len(acks) != 1 || acks[0].Seq != 1 {
		t.Fatalf("acks %+v", acks)
	}
}
