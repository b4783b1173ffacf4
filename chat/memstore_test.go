package chat

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func seqsOf(msgs []Message) []uint64 {
	out := make([]uint64, len(msgs))
	for i, m := range msgs {
		out[i] = m.Seq
	}
	return out
}

func TestMemoryStoreChat(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryStore()
	for i := range 10 {
		m, err := s.AppendChat(ctx, Message{Room: "a", Text: fmt.Sprint(i)})
		if err != nil || m.Seq != uint64(i+1) || m.ID == "" || m.At.IsZero() {
			t.Fatalf("append %d: %+v, %v", i, m, err)
		}
	}
	if m, _ := s.AppendChat(ctx, Message{Room: "b", ID: "mine"}); m.Seq != 1 || m.ID != "mine" {
		t.Fatalf("rooms must number apart and keep a given ID: %+v", m)
	}
	if err := s.DeleteChat(ctx, "a", 5); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		get  func() ([]Message, error)
		want []uint64
	}{
		{"newest", func() ([]Message, error) { return s.ChatHistory(ctx, "a", 0, 3) }, []uint64{8, 9, 10}},
		{"before, skipping deleted", func() ([]Message, error) { return s.ChatHistory(ctx, "a", 7, 3) }, []uint64{3, 4, 6}},
		{"before the first", func() ([]Message, error) { return s.ChatHistory(ctx, "a", 1, 3) }, []uint64{}},
		{"before beyond the end", func() ([]Message, error) { return s.ChatHistory(ctx, "a", 99, 2) }, []uint64{9, 10}},
		{"since", func() ([]Message, error) { return s.ChatSince(ctx, "a", 3, 3) }, []uint64{4, 6, 7}},
		{"since the end", func() ([]Message, error) { return s.ChatSince(ctx, "a", 10, 3) }, []uint64{}},
		{"unknown room", func() ([]Message, error) { return s.ChatHistory(ctx, "zz", 0, 3) }, []uint64{}},
	}
	for _, tc := range tests {
		got, err := tc.get()
		if err != nil || fmt.Sprint(seqsOf(got)) != fmt.Sprint(tc.want) {
			t.Errorf("%s: %v, %v; want %v", tc.name, seqsOf(got), err, tc.want)
		}
	}
	for _, seq := range []uint64{5, 0, 11} {
		if err := s.DeleteChat(ctx, "a", seq); !errors.Is(err, ErrNotFound) {
			t.Errorf("delete %d: %v, want not found", seq, err)
		}
	}
	if err := s.ClearChat(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ChatHistory(ctx, "a", 0, 10); len(got) != 0 {
		t.Fatalf("history after clear: %v", seqsOf(got))
	}
	if m, _ := s.AppendChat(ctx, Message{Room: "a"}); m.Seq != 11 {
		t.Fatalf("Seq after clear %d, want 11", m.Seq)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.AppendChat(cancelled, Message{Room: "a"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("append with a cancelled context: %v", err)
	}
}

func TestMemoryStoreKeepsMaxPerRoom(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryStore()
	s.MaxPerRoom = 5
	for range 12 {
		s.AppendChat(ctx, Message{Room: "a"})
	}
	if got, _ := s.ChatHistory(ctx, "a", 0, 100); fmt.Sprint(seqsOf(got)) != "[8 9 10 11 12]" {
		t.Fatalf("kept %v", seqsOf(got))
	}
	if got, _ := s.ChatSince(ctx, "a", 2, 2); fmt.Sprint(seqsOf(got)) != "[8 9]" {
		t.Fatalf("since an evicted seq: %v", seqsOf(got))
	}
	if err := s.DeleteChat(ctx, "a", 3); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete of an evicted seq: %v", err)
	}
}

func TestMemoryStoreBans(t *testing.T) {
	ctx := context.Background()
	clk := newFakeClock()
	s := NewMemoryStore()
	s.Now = clk.Now
	s.Ban(ctx, "r", "bob", clk.Now().Add(time.Minute))
	s.Ban(ctx, "r", "eve", time.Time{})
	check := func(who string, want bool) {
		t.Helper()
		if got, err := s.Banned(ctx, "r", who); got != want || err != nil {
			t.Fatalf("Banned(%s) = %v, %v; want %v", who, got, err, want)
		}
	}
	check("bob", true)
	check("eve", true)
	check("amy", false)
	if got, _ := s.Banned(ctx, "other", "bob"); got {
		t.Fatal("a ban must hold in its room only")
	}
	clk.Advance(time.Minute)
	check("bob", false)
	check("eve", true)
}

func TestMemoryStoreConcurrentAppends(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryStore()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				s.AppendChat(ctx, Message{Room: "a"})
			}
		})
	}
	wg.Wait()
	got, _ := s.ChatSince(ctx, "a", 0, 1000)
	if err := contiguous(seqsOf(got), 1, 800); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, m := range got {
		ids[m.ID] = true
	}
	if len(ids) != 800 {
		t.Fatalf("%d distinct IDs for 800 messages", len(ids))
	}
}
