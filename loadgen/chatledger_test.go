package loadgen

import (
	"testing"
	"time"
)

func TestBitset(t *testing.T) {
	var a, b bitset
	for _, i := range []int{0, 3, 63, 64, 200} {
		if a.set(i) {
			t.Fatalf("set(%d) reported a new member as present", i)
		}
	}
	if !a.set(63) {
		t.Fatal("set(63) again did not report it present")
	}
	b.set(3)
	b.set(64)
	b.set(65)
	if a.count() != 5 || b.count() != 3 || a.andCount(b) != 2 || b.andCount(a) != 2 {
		t.Fatalf("count %d %d, and %d %d", a.count(), b.count(), a.andCount(b), b.andCount(a))
	}
	if !a.has(200) || a.has(199) || a.has(10_000) {
		t.Fatal("has")
	}
	c := a.clone()
	c.set(1)
	if a.has(1) {
		t.Fatal("clone shares storage")
	}
}

func TestChatLedger(t *testing.T) {
	l := newChatLedger()
	t0 := time.Unix(1_800_000_000, 0)
	n0, id0, text0 := l.add("viewer-00001", t0)
	n1, id1, text1 := l.add("viewer-00001", t0.Add(time.Second))
	n2, _, _ := l.add("viewer-00002", t0.Add(2*time.Second))
	if n0 != 0 || n1 != 1 || n2 != 2 || id0 == id1 || text0 == text1 {
		t.Fatalf("numbers %d %d %d, ids %q %q, texts %q %q", n0, n1, n2, id0, id1, text0, text1)
	}
	if n, ok := parseRequestID(id1); !ok || n != 1 {
		t.Fatalf("request id %q parsed as %d %v", id1, n, ok)
	}
	if n, ok := l.parseChatText(text1); !ok || n != 1 {
		t.Fatalf("text %q parsed as %d %v", text1, n, ok)
	}
	other := newChatLedger() // another run's messages, e.g. in the join backfill
	for _, s := range []string{"", "hello", "lg " + other.nonce + " 1 from x", "lg " + l.nonce + " x", "lg " + l.nonce + " -1 x"} {
		if _, ok := l.parseChatText(s); ok {
			t.Errorf("text %q taken for this run's", s)
		}
	}
	for _, id := range []string{"", "c1", "lg-", "lg--2", "lg-x"} {
		if _, ok := parseRequestID(id); ok {
			t.Errorf("id %q taken for ours", id)
		}
	}

	l.answer(n0, t0.Add(5*time.Millisecond), "")
	l.answer(n0, t0.Add(9*time.Millisecond), "duplicate") // a second reply is ignored
	l.answer(n1, t0.Add(time.Second+time.Millisecond), "rate_limited")
	l.answer(99, t0, "") // unknown numbers are ignored
	l.failed(n2)
	l.failed(n0) // already acked: stays acked
	sent, acked, pending := l.counts()
	if sent != 2 || acked != 1 || pending != 0 {
		t.Fatalf("sent %d acked %d pending %d", sent, acked, pending)
	}
	s := l.snapshot()
	if s.msgs[0].state != chatAcked || s.msgs[0].ackAt.Sub(s.msgs[0].at) != 5*time.Millisecond ||
		s.msgs[1].state != chatRejected || s.msgs[1].code != "rate_limited" || s.msgs[2].state != chatFailed {
		t.Fatalf("ledger %+v", s.msgs)
	}
	if !s.acked.has(0) || s.acked.count() != 1 {
		t.Fatalf("acked %v", s.acked)
	}
	if at, ok := l.sentAt(1); !ok || !at.Equal(t0.Add(time.Second)) {
		t.Fatalf("sentAt(1) = %v %v", at, ok)
	}
	if _, ok := l.sentAt(3); ok {
		t.Fatal("sentAt of an unused number")
	}
}
