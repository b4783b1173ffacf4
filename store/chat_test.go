package store

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestAppendAssignsFields(t *testing.T) {
	s := openTest(t, t.TempDir())
	ctx := testCtx(t)
	before := time.Now()
	m, err := s.AppendChat(ctx, ChatMessage{Room: "r", From: "alice", Text: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Seq != 1 || m.ID == "" || m.Kind != KindUser || m.At.Before(before.Add(-time.Second)) {
		t.Fatalf("appended %+v", m)
	}
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	sys, err := s.AppendChat(ctx, ChatMessage{Room: "r", ID: "mine", Kind: KindSystem, Text: "live started", At: at})
	if err != nil {
		t.Fatal(err)
	}
	if sys.Seq != 2 || sys.ID != "mine" || sys.Kind != KindSystem || !sys.At.Equal(at) {
		t.Fatalf("appended %+v", sys)
	}
	// A retry with the same ID stores nothing new and returns the stored message.
	again, err := s.AppendChat(ctx, ChatMessage{Room: "r", ID: "mine", Kind: KindSystem, Text: "live started"})
	if err != nil {
		t.Fatal(err)
	}
	if again.Seq != 2 || !again.At.Equal(at) {
		t.Fatalf("retried append returned %+v, want the stored seq 2", again)
	}
	// The same ID in another room is another message.
	other, err := s.AppendChat(ctx, ChatMessage{Room: "r2", ID: "mine", Text: "x"})
	if err != nil || other.Seq != 1 || other.Room != "r2" {
		t.Fatalf("same ID in another room: %+v, %v", other, err)
	}
	if last, err := s.LastChatSeq(ctx, "r"); err != nil || last != 2 {
		t.Fatalf("LastChatSeq = %d, %v; want 2", last, err)
	}
	if last, err := s.LastChatSeq(ctx, "empty"); err != nil || last != 0 {
		t.Fatalf("LastChatSeq of an empty room = %d, %v; want 0", last, err)
	}
}

func TestHistoryPaging(t *testing.T) {
	s := openTest(t, t.TempDir())
	ctx := testCtx(t)
	// Interleave two rooms so stream positions and room sequences differ.
	for i := 0; i < 30; i++ {
		appendN(t, s, "paged", "p", 1)
		appendN(t, s, "noise", "n", 2)
	}
	for _, seq := range []uint64{5, 6, 20, 30} {
		if err := s.DeleteChat(ctx, "paged", seq); err != nil {
			t.Fatalf("DeleteChat %d: %v", seq, err)
		}
	}
	if err := s.DeleteChat(ctx, "paged", 6); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second DeleteChat 6: %v, want ErrNotFound", err)
	}
	if err := s.DeleteChat(ctx, "paged", 99); !errors.Is(err, ErrNotFound) {
		t.Fatalf("DeleteChat 99: %v, want ErrNotFound", err)
	}
	rng := func(from, to uint64, skip ...uint64) []uint64 {
		var out []uint64
		for i := from; i <= to; i++ {
			if !slices.Contains(skip, i) {
				out = append(out, i)
			}
		}
		return out
	}
	cases := []struct {
		before uint64
		limit  int
		want   []uint64
	}{
		{0, 5, rng(24, 29, 30, 20)[1:]}, // newest five: 25..29
		{0, 10, rng(18, 29, 20)[1:]},    // 19 21..29: the deleted 20 is skipped and 19 fills in
		{25, 3, []uint64{22, 23, 24}},
		{21, 3, []uint64{17, 18, 19}},
		{9, 5, []uint64{2, 3, 4, 7, 8}}, // a hole of two in the window
		{3, 10, []uint64{1, 2}},
		{1, 10, nil},
		{1000, 2, []uint64{28, 29}},
		{0, 0, rng(1, 29, 5, 6, 20)}, // limit 0: the cap
	}
	for _, c := range cases {
		got, err := s.ChatHistory(ctx, "paged", c.before, c.limit)
		if err != nil {
			t.Fatalf("ChatHistory(before %d, limit %d): %v", c.before, c.limit, err)
		}
		if gs := seqs(got); !slices.Equal(gs, c.want) && !(len(gs) == 0 && len(c.want) == 0) {
			t.Errorf("ChatHistory(before %d, limit %d) = %v, want %v", c.before, c.limit, gs, c.want)
		}
		for _, m := range got {
			if m.Room != "paged" || m.Text != fmt.Sprintf("p %d", 1) {
				t.Fatalf("history returned %+v", m)
			}
		}
	}
	// Paging back page by page visits every message once.
	var all []uint64
	for before := uint64(0); ; {
		page, err := s.ChatHistory(ctx, "paged", before, 4)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		all = append(seqs(page), all...)
		before = page[0].Seq
	}
	if want := rng(1, 29, 5, 6, 20); !slices.Equal(all, want) {
		t.Fatalf("paging back visited %v, want %v", all, want)
	}
	// The limit is capped.
	appendN(t, s, "big", "b", MaxHistoryLimit+20)
	got, err := s.ChatHistory(ctx, "big", 0, 10_000)
	if err != nil || len(got) != MaxHistoryLimit || got[0].Seq != 21 {
		t.Fatalf("capped history: %d messages from %d, %v", len(got), got[0].Seq, err)
	}
}

func TestChatSince(t *testing.T) {
	s := openTest(t, t.TempDir())
	ctx := testCtx(t)
	for i := 0; i < 12; i++ {
		appendN(t, s, "r", "m", 1)
		appendN(t, s, "other", "o", 1)
	}
	if err := s.DeleteChat(ctx, "r", 9); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		after uint64
		limit int
		want  []uint64
	}{
		{0, 3, []uint64{1, 2, 3}},
		{7, 10, []uint64{8, 10, 11, 12}},
		{8, 2, []uint64{10, 11}},
		{12, 10, nil},
		{50, 10, nil},
	}
	for _, c := range cases {
		got, err := s.ChatSince(ctx, "r", c.after, c.limit)
		if err != nil {
			t.Fatal(err)
		}
		if gs := seqs(got); !slices.Equal(gs, c.want) && !(len(gs) == 0 && len(c.want) == 0) {
			t.Errorf("ChatSince(%d, %d) = %v, want %v", c.after, c.limit, gs, c.want)
		}
	}
	if got, err := s.ChatSince(ctx, "nobody-here", 0, 10); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("ChatSince of an empty room = %#v, %v; want an empty list", got, err)
	}
}

func TestClearContinuesSequence(t *testing.T) {
	s := openTest(t, t.TempDir())
	ctx := testCtx(t)
	appendN(t, s, "r", "old", 7)
	appendN(t, s, "keep", "k", 3)
	if err := s.ClearChat(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ChatHistory(ctx, "r", 0, 100); err != nil || len(got) != 0 {
		t.Fatalf("history after clear = %v, %v", seqs(got), err)
	}
	if last, err := s.LastChatSeq(ctx, "r"); err != nil || last != 7 {
		t.Fatalf("LastChatSeq after clear = %d, %v; want 7", last, err)
	}
	next := appendN(t, s, "r", "new", 2)
	if next[0].Seq != 8 || next[1].Seq != 9 {
		t.Fatalf("appends after clear got %v, want 8, 9", seqs(next))
	}
	if got, _ := s.ChatHistory(ctx, "r", 0, 100); !slices.Equal(seqs(got), []uint64{8, 9}) {
		t.Fatalf("history after clear and append = %v", seqs(got))
	}
	if got, _ := s.ChatHistory(ctx, "keep", 0, 100); len(got) != 3 {
		t.Fatalf("clearing r changed room keep: %v", seqs(got))
	}
	// Clearing twice, deleting the new tail, then appending still continues.
	if err := s.ClearChat(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	if err := s.ClearChat(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	if err := s.ClearChat(ctx, "never-used"); err != nil {
		t.Fatal(err)
	}
	m := appendN(t, s, "r", "x", 1)[0]
	if err := s.DeleteChat(ctx, "r", m.Seq); err != nil {
		t.Fatal(err)
	}
	if m2 := appendN(t, s, "r", "y", 1)[0]; m2.Seq != m.Seq+1 {
		t.Fatalf("append after deleting the tail got %d, want %d", m2.Seq, m.Seq+1)
	}
}

// TestConcurrentAppends has 20 writers on one room (and one on another): the
// room's sequences must come out 1..N with no gap and no duplicate.
func TestConcurrentAppends(t *testing.T) {
	s := openTest(t, t.TempDir())
	ctx := testCtx(t)
	const writers, each = 20, 10
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		got  []uint64
		errs []error
	)
	for w := range writers + 1 {
		wg.Go(func() {
			room := "busy"
			if w == writers {
				room = "quiet"
			}
			for i := range each {
				m, err := s.AppendChat(ctx, ChatMessage{Room: room, From: fmt.Sprint("w", w), Text: fmt.Sprint(i)})
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else if room == "busy" {
					got = append(got, m.Seq)
				}
				mu.Unlock()
			}
		})
	}
	// Deletes and a clear racing the appends must not make a sequence repeat.
	wg.Go(func() {
		for seq := uint64(1); seq < 60; seq += 7 {
			if err := s.DeleteChat(ctx, "busy", seq); err != nil && !errors.Is(err, ErrNotFound) {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}
	})
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d appends failed, first: %v", len(errs), errs[0])
	}
	slices.Sort(got)
	for i, seq := range got {
		if seq != uint64(i+1) {
			t.Fatalf("busy room sequences have a gap or duplicate at %d: %v", i, got)
		}
	}
	if len(got) != writers*each {
		t.Fatalf("got %d sequences, want %d", len(got), writers*each)
	}
	if last, _ := s.LastChatSeq(ctx, "busy"); last != writers*each {
		t.Fatalf("LastChatSeq = %d, want %d", last, writers*each)
	}
	if last, _ := s.LastChatSeq(ctx, "quiet"); last != each {
		t.Fatalf("quiet room LastChatSeq = %d, want %d", last, each)
	}
}
