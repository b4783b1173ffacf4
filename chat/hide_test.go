package chat

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestHideAndShow(t *testing.T) {
	tests := []struct {
		name     string
		missed   int
		wantGap  bool
		wantFrom uint64 // first Seq received after showing
	}{
		{name: "short absence: the whole tail", missed: 10, wantFrom: 6},
		{name: "exactly the cap: no gap", missed: 200, wantFrom: 6},
		{name: "over the cap: newest 200 and a gap", missed: 250, wantGap: true, wantFrom: 56},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The room batches on a timer that never fires: the test drives flushes.
			h, _ := newTestHub(t, Config{LargeRoom: 1, BatchInterval: time.Hour, QueueLimit: 4096})
			host, _ := join(t, h, "r", "host", true)
			viewer, vrec := join(t, h, "r", "viewer", false)
			r := roomOf(t, h, "r")
			system := func(n int) {
				for i := range n {
					if _, err := h.System(context.Background(), "r", fmt.Sprintf("m%d", i)); err != nil {
						t.Fatal(err)
					}
				}
			}
			system(5)
			r.flush()
			if err := do(t, viewer, map[string]any{"type": "hide", "hidden": true}); err != nil {
				t.Fatal(err)
			}
			framesBefore := vrec.frameCount()
			system(tc.missed - 1)
			mustSend(t, host, "while hidden")                              // missed: tc.missed messages in all
			do(t, host, map[string]any{"type": "slow_mode", "seconds": 5}) // a notice waits too
			r.flush()
			if n := vrec.frameCount(); n != framesBefore {
				t.Fatalf("hidden member got %d frames", n-framesBefore)
			}
			// Its own requests are still answered.
			if err := do(t, viewer, map[string]any{"type": "history", "id": "h", "limit": 1}); err != nil {
				t.Fatal(err)
			}
			if n := vrec.frameCount(); n != framesBefore+1 {
				t.Fatal("hidden member's history request not answered")
			}
			if err := do(t, viewer, map[string]any{"type": "hide", "hidden": false}); err != nil {
				t.Fatal(err)
			}
			r.flush()
			head := uint64(5 + tc.missed)
			var after []event
			for _, e := range vrec.events(t)[framesBefore+1:] {
				after = append(after, e)
			}
			if len(after) == 0 || after[0].Type != TypeSlowMode {
				t.Fatalf("the notice held while hidden did not come first: %+v", after)
			}
			gaps := vrec.ofType(t, TypeGap)
			if tc.wantGap {
				if len(gaps) != 1 || gaps[0].From != 6 || gaps[0].To != tc.wantFrom-1 {
					t.Fatalf("gaps %+v, want 6..%d", gaps, tc.wantFrom-1)
				}
			} else if len(gaps) != 0 {
				t.Fatalf("unexpected gaps %+v", gaps)
			}
			s := vrec.stream(t)
			if err := contiguous(s[5:], tc.wantFrom, head); err != nil {
				t.Fatal(err)
			}
			// Live delivery resumes.
			mustSend(t, host, "welcome back")
			r.flush()
			if s := vrec.stream(t); s[len(s)-1] != head+1 {
				t.Fatalf("after showing, stream ends at %d", s[len(s)-1])
			}
		})
	}
}

func TestHistoryPages(t *testing.T) {
	h, _ := newTestHub(t, Config{})
	viewer, vrec := join(t, h, "r", "viewer", false)
	for i := range 150 {
		if _, err := h.System(context.Background(), "r", fmt.Sprintf("m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	page := func(id string, before uint64, limit int) event {
		t.Helper()
		if err := do(t, viewer, map[string]any{"type": "history", "id": id, "before": before, "limit": limit}); err != nil {
			t.Fatal(err)
		}
		for _, e := range vrec.ofType(t, TypeMessages) {
			if e.ID == id {
				return e
			}
		}
		t.Fatalf("no page %s", id)
		return event{}
	}
	tests := []struct {
		id           string
		before       uint64
		limit        int
		first, count uint64
	}{
		{"newest", 0, 20, 131, 20},
		{"older", 131, 20, 111, 20},
		{"capped at 100", 0, 1000, 51, 100},
		{"default limit", 0, 0, 101, 50},
		{"the beginning", 3, 20, 1, 2},
		{"before the beginning", 1, 20, 0, 0},
	}
	for _, tc := range tests {
		p := page(tc.id, tc.before, tc.limit)
		var seqs []uint64
		for _, m := range p.Messages {
			seqs = append(seqs, m.Seq)
		}
		if tc.count == 0 {
			if len(seqs) != 0 {
				t.Fatalf("%s: %v", tc.id, seqs)
			}
			continue
		}
		if err := contiguous(seqs, tc.first, tc.first+tc.count-1); err != nil {
			t.Fatalf("%s: %v", tc.id, err)
		}
	}
}

func TestHistoryPageFitsOneFrame(t *testing.T) {
	h, _ := newTestHub(t, Config{MaxFrameBytes: 2000})
	viewer, vrec := join(t, h, "r", "viewer", false)
	for i := range 40 {
		h.System(context.Background(), "r", fmt.Sprintf("message %d", i))
	}
	if err := do(t, viewer, map[string]any{"type": "history", "id": "h", "limit": 40}); err != nil {
		t.Fatal(err)
	}
	for _, e := range vrec.ofType(t, TypeMessages) {
		if e.ID != "h" {
			continue
		}
		n := len(e.Messages)
		if n == 0 || n == 40 || e.Messages[n-1].Seq != 40 {
			t.Fatalf("page of %d messages ending at %d", n, e.Messages[n-1].Seq)
		}
	}
	vrec.mu.Lock()
	defer vrec.mu.Unlock()
	for _, f := range vrec.frames {
		if len(f) > 2000 {
			t.Fatalf("frame of %d bytes", len(f))
		}
	}
}
