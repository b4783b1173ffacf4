package chat

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// failingStore is a MemoryStore whose writes can be made to fail.
type failingStore struct {
	*MemoryStore
	fail atomic.Bool
}

func (s *failingStore) AppendChat(ctx context.Context, m Message) (Message, error) {
	if s.fail.Load() {
		return Message{}, errors.New("disk on fire")
	}
	return s.MemoryStore.AppendChat(ctx, m)
}

func TestRejectedRequests(t *testing.T) {
	ok := strings.Repeat("가", 500) // 500 runes, 1,500 bytes: accepted
	tests := []struct {
		name  string
		raw   string
		setup func(t *testing.T, h *Hub, host, viewer *Member, clk *fakeClock, st *failingStore)
		code  string
	}{
		{name: "not JSON", raw: `hello`, code: CodeBadMessage},
		{name: "text not a string", raw: `{"type":"send","text":5}`, code: CodeBadMessage},
		{name: "type not a string", raw: `{"type":5}`, code: CodeBadMessage},
		{name: "missing type", raw: `{"text":"hi"}`, code: CodeBadMessage},
		{name: "hide without hidden", raw: `{"type":"hide"}`, code: CodeBadMessage},
		{name: "unknown type", raw: `{"type":"dance","id":"c1"}`, code: CodeUnknownType},
		{name: "empty text", raw: `{"type":"send","id":"c1","text":""}`, code: CodeEmpty},
		{name: "white space only", raw: `{"type":"send","id":"c1","text":" \n\t "}`, code: CodeEmpty},
		{name: "missing text", raw: `{"type":"send","id":"c1"}`, code: CodeEmpty},
		{name: "501 ASCII runes", raw: `{"type":"send","id":"c1","text":"` + strings.Repeat("a", 501) + `"}`, code: CodeTooLong},
		{name: "501 multi-byte runes", raw: `{"type":"send","id":"c1","text":"` + ok + `가"}`, code: CodeTooLong},
		{name: "500 multi-byte runes", raw: `{"type":"send","id":"c1","text":"` + ok + `"}`, code: ""},
		{name: "non-UTF-8 bytes", raw: "{\"type\":\"send\",\"id\":\"c1\",\"text\":\"a\xffb\"}", code: CodeInvalidUTF8},
		{name: "lone surrogate escape", raw: `{"type":"send","id":"c1","text":"a\ud800b"}`, code: CodeInvalidUTF8},
		{name: "literal replacement character is fine", raw: `{"type":"send","id":"c1","text":"a\ufffdb"}`, code: ""},
		{name: "blocked word", raw: `{"type":"send","id":"c1","text":"this is SPAM!"}`, code: CodeBlockedWord},
		{name: "blocked phrase", raw: `{"type":"send","id":"c1","text":"please Buy   now"}`, code: CodeBlockedWord},
		{name: "blocked word inside another word is fine", raw: `{"type":"send","id":"c1","text":"antispam spammer"}`, code: ""},
		{
			name: "rate limited", raw: `{"type":"send","id":"c1","text":"one more"}`, code: CodeRateLimited,
			setup: func(t *testing.T, h *Hub, host, viewer *Member, clk *fakeClock, st *failingStore) {
				for i := range 20 {
					mustSend(t, viewer, strings.Repeat("x", i+1))
				}
			},
		},
		{
			name: "slow mode", raw: `{"type":"send","id":"c1","text":"second"}`, code: CodeSlowMode,
			setup: func(t *testing.T, h *Hub, host, viewer *Member, clk *fakeClock, st *failingStore) {
				do(t, host, map[string]any{"type": "slow_mode", "seconds": 10})
				mustSend(t, viewer, "first")
			},
		},
		{
			name: "duplicate", raw: `{"type":"send","id":"c1","text":"same"}`, code: CodeDuplicate,
			setup: func(t *testing.T, h *Hub, host, viewer *Member, clk *fakeClock, st *failingStore) {
				mustSend(t, viewer, "same")
				clk.Advance(29 * time.Second)
			},
		},
		{
			name: "timed out", raw: `{"type":"send","id":"c1","text":"hi"}`, code: CodeTimedOut,
			setup: func(t *testing.T, h *Hub, host, viewer *Member, clk *fakeClock, st *failingStore) {
				do(t, host, map[string]any{"type": "timeout", "identity": "viewer", "seconds": 60})
			},
		},
		{name: "viewer deletes", raw: `{"type":"delete","id":"c1","seq":1}`, code: CodeForbidden},
		{name: "report of unknown seq", raw: `{"type":"report","id":"c1","seq":99,"reason":"spam"}`, code: CodeNotFound},
		{
			name: "store failed", raw: `{"type":"send","id":"c1","text":"hi"}`, code: CodeStoreFailed,
			setup: func(t *testing.T, h *Hub, host, viewer *Member, clk *fakeClock, st *failingStore) {
				st.fail.Store(true)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			st := &failingStore{MemoryStore: NewMemoryStore()}
			st.Now = clk.Now
			h, _ := newTestHub(t, Config{Store: st, Clock: clk.Now, BlockedWords: []string{"spam", "buy now"}})
			host, _ := join(t, h, "r", "host", true)
			viewer, vrec := join(t, h, "r", "viewer", false)
			_, other := join(t, h, "r", "other", false)
			if tc.setup != nil {
				tc.setup(t, h, host, viewer, clk, st)
			}
			roomOf(t, h, "r").flush() // setup messages are delivered before counting
			before, _ := st.ChatSince(context.Background(), "r", 0, 1000)
			othersBefore := len(other.stream(t))

			err := viewer.Handle(context.Background(), []byte(tc.raw))
			if code(err) != tc.code {
				t.Fatalf("Handle returned %v, want code %q", err, tc.code)
			}
			if tc.code == "" {
				eventually(t, "delivery of the accepted message", func() bool { return len(other.stream(t)) == othersBefore+1 })
				return
			}
			ev := vrec.lastError(t)
			if ev == nil || ev.Error.Code != tc.code || ev.Error.Message == "" {
				t.Fatalf("client got error frame %+v, want code %q", ev, tc.code)
			}
			if strings.Contains(tc.raw, `"id":"c1"`) && ev.ID != "c1" {
				t.Fatalf("error frame id %q, want c1", ev.ID)
			}
			after, _ := st.ChatSince(context.Background(), "r", 0, 1000)
			if len(after) != len(before) {
				t.Fatalf("a rejected message was stored")
			}
			roomOf(t, h, "r").flush()
			if n := len(other.stream(t)); n != othersBefore {
				t.Fatalf("a rejected message reached another member")
			}
			if errs := other.ofType(t, TypeError); len(errs) > 0 {
				t.Fatalf("another member got an error: %+v", errs)
			}
		})
	}
}

func TestModerationDetails(t *testing.T) {
	clk := newFakeClock()
	st := &failingStore{MemoryStore: NewMemoryStore()}
	h, _ := newTestHub(t, Config{Store: st, Clock: clk.Now, BlockedWords: []string{"spam"}})
	host, _ := join(t, h, "r", "host", true)
	viewer, vrec := join(t, h, "r", "viewer", false)

	t.Run("blocked word reason names the rule, not the word", func(t *testing.T) {
		err := send(t, viewer, "", "spam")
		var e *Error
		if !errors.As(err, &e) || strings.Contains(strings.ToLower(e.Message), "spam") || !strings.Contains(e.Message, "rule 1") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("slow mode says when, and lifts", func(t *testing.T) {
		do(t, host, map[string]any{"type": "slow_mode", "seconds": 10})
		mustSend(t, viewer, "a")
		clk.Advance(3 * time.Second)
		err := send(t, viewer, "", "b")
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeSlowMode || e.RetryAfterMS != 7000 || !strings.Contains(e.Message, "7 s") {
			t.Fatalf("got %+v", err)
		}
		mustSend(t, host, "hosts are exempt")
		mustSend(t, host, "hosts are exempt, really")
		clk.Advance(7 * time.Second)
		mustSend(t, viewer, "b")
		do(t, host, map[string]any{"type": "slow_mode", "seconds": 0})
		mustSend(t, viewer, "c")
	})
	t.Run("duplicate lifts after the window", func(t *testing.T) {
		mustSend(t, viewer, "again")
		if err := send(t, viewer, "", "again"); code(err) != CodeDuplicate {
			t.Fatalf("got %v", err)
		}
		clk.Advance(30 * time.Second)
		mustSend(t, viewer, "again")
	})
	t.Run("rate limit refills", func(t *testing.T) {
		clk.Advance(time.Minute)
		for i := range 20 {
			mustSend(t, viewer, strings.Repeat("r", i+1))
		}
		err := send(t, viewer, "", "too many")
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeRateLimited || e.RetryAfterMS != 1500 {
			t.Fatalf("got %+v", err)
		}
		clk.Advance(1500 * time.Millisecond)
		mustSend(t, viewer, "one more")
	})
	t.Run("store failure does not count against the user", func(t *testing.T) {
		clk.Advance(time.Minute)
		st.fail.Store(true)
		if err := send(t, viewer, "", "retry me"); code(err) != CodeStoreFailed {
			t.Fatalf("got %v", err)
		}
		st.fail.Store(false)
		mustSend(t, viewer, "retry me")
	})
	t.Run("timeout lifts", func(t *testing.T) {
		do(t, host, map[string]any{"type": "timeout", "identity": "viewer", "seconds": 60})
		if err := send(t, viewer, "", "x"); code(err) != CodeTimedOut {
			t.Fatalf("got %v", err)
		}
		clk.Advance(time.Minute)
		mustSend(t, viewer, "x")
	})
	if errs := vrec.ofType(t, TypeError); len(errs) != 6 {
		t.Fatalf("viewer got %d error frames, want 6", len(errs))
	}
}

func TestValidateText(t *testing.T) {
	tests := []struct {
		raw, want, code string
	}{
		{`"  hi  "`, "hi", ""},
		{`"\u00e9t\u00e9"`, "été", ""},
		{`"\ud83d\ude00"`, "😀", ""}, // a surrogate pair is fine
		{`"\ud83d"`, "", CodeInvalidUTF8},
		{`"\ude00x"`, "", CodeInvalidUTF8},
		{`null`, "", CodeEmpty},
		{`["x"]`, "", CodeBadMessage},
	}
	for _, tc := range tests {
		got, err := validateText([]byte(tc.raw), 500)
		if got != tc.want || code(errOrNil(err)) != tc.code {
			t.Errorf("validateText(%s) = %q, %v; want %q, %q", tc.raw, got, err, tc.want, tc.code)
		}
	}
}

// errOrNil avoids the typed-nil-in-interface trap when passing *Error as error.
func errOrNil(e *Error) error {
	if e == nil {
		return nil
	}
	return e
}

func TestWordFilter(t *testing.T) {
	f := newWordFilter([]string{"Spam", "buy now", "  ", "씨발"})
	tests := []struct {
		text string
		rule int
	}{
		{"spam", 1}, {"SpAm.", 1}, {"no-spam-here", 1}, {"spammer", 0}, {"antispam", 0},
		{"buy now!", 2}, {"buy   NOW", 2}, {"buy later now", 0}, {"buynow", 0},
		{"아 씨발 진짜", 4}, {"hello", 0},
	}
	for _, tc := range tests {
		err := f.check(tc.text)
		switch {
		case tc.rule == 0 && err != nil:
			t.Errorf("%q blocked: %v", tc.text, err)
		case tc.rule != 0 && (err == nil || !strings.Contains(err.Message, "rule "+string(rune('0'+tc.rule)))):
			t.Errorf("%q: got %v, want rule %d", tc.text, err, tc.rule)
		}
	}
}
