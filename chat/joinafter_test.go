package chat

import (
	"context"
	"fmt"
	"testing"
)

// A member that comes back holding the messages up to some Seq receives exactly
// the rest: no backfill of what it has, nothing missing, then the live ones.
func TestJoinAfterResumesWithoutGapOrDuplicate(t *testing.T) {
	h, _ := newTestHub(t, Config{RateLimit: noLimits, QueueLimit: 8, DuplicateWindow: -1})
	sender, _ := join(t, h, "r", "s", false)
	for i := range 5 {
		mustSend(t, sender, fmt.Sprintf("before %d", i))
	}
	joinAfter := func(after uint64) *recorder {
		t.Helper()
		rec := newRecorder()
		m, err := h.JoinAfter(context.Background(), "r", Participant{Identity: "v", Name: "V"}, rec, after)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.Leave)
		return rec
	}

	back := joinAfter(3)
	eventually(t, "the two missed messages", func() bool { return len(back.stream(t)) >= 2 })
	mustSend(t, sender, "live")
	eventually(t, "the live message", func() bool { return len(back.stream(t)) >= 3 })
	if err := contiguous(back.stream(t), 4, 6); err != nil {
		t.Fatalf("resumed after 3: %v", err)
	}

	current := joinAfter(6) // holds everything: receives nothing until the next message
	mustSend(t, sender, "next")
	eventually(t, "the next message", func() bool { return len(current.stream(t)) >= 1 })
	if err := contiguous(current.stream(t), 7, 7); err != nil {
		t.Fatalf("resumed at the head: %v", err)
	}

	// Further behind than the queue holds: a gap, then the newest QueueLimit.
	for i := range 10 {
		mustSend(t, sender, fmt.Sprintf("more %d", i))
	}
	far := joinAfter(1)
	eventually(t, "the newest messages", func() bool { return len(far.stream(t)) >= 8 })
	if err := contiguous(far.stream(t), 10, 17); err != nil {
		t.Fatalf("resumed far behind: %v", err)
	}
	gaps := far.ofType(t, TypeGap)
	if len(gaps) != 1 || gaps[0].From != 2 || gaps[0].To != 9 {
		t.Fatalf("gaps = %+v, want one for 2..9", gaps)
	}
}
