package store

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/call"
)

func callRecord(id, caller, callee string) call.Record {
	start := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	return call.Record{
		ID: id, Caller: caller, CallerName: caller + " name", Callee: callee, CalleeName: callee + " name",
		Mode: call.ModeVideo, StartedAt: start, AnsweredAt: start.Add(3 * time.Second),
		EndedAt: start.Add(time.Minute), DurationMS: 57000, Outcome: call.OutcomeAccepted, Reason: call.EndHangup,
	}
}

func callIDs(recs []call.Record) string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return fmt.Sprint(out)
}

func TestCallsNewestFirst(t *testing.T) {
	s := openTest(t, t.TempDir())
	ctx := testCtx(t)
	for i := 1; i <= 5; i++ {
		if err := s.SaveCall(ctx, callRecord(fmt.Sprint("c", i), "alice", "bob")); err != nil {
			t.Fatal(err)
		}
		// Other users' calls interleave in the stream.
		if err := s.SaveCall(ctx, callRecord(fmt.Sprint("x", i), "carol", "dan")); err != nil {
			t.Fatal(err)
		}
	}
	// A retry is stored once in each history; a call to oneself once.
	if err := s.SaveCall(ctx, callRecord("c3", "alice", "bob")); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveCall(ctx, callRecord("self", "alice", "alice")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		who   string
		limit int
		want  string
	}{
		{"alice", 0, "[self c5 c4 c3 c2 c1]"},
		{"alice", 2, "[self c5]"},
		{"alice", 6, "[self c5 c4 c3 c2 c1]"},
		{"bob", -1, "[c5 c4 c3 c2 c1]"},
		{"bob", 1, "[c5]"},
		{"bob", 3, "[c5 c4 c3]"},
		{"dan", 100, "[x5 x4 x3 x2 x1]"},
		{"erin", 10, "[]"},
	} {
		got, err := s.Calls(ctx, tc.who, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if got == nil || callIDs(got) != tc.want {
			t.Errorf("Calls(%s, %d) = %s, want %s", tc.who, tc.limit, callIDs(got), tc.want)
		}
	}
	got, _ := s.Calls(ctx, "bob", 1)
	if want := callRecord("c5", "alice", "bob"); !reflect.DeepEqual(got[0], want) {
		t.Fatalf("record read back = %+v, want %+v", got[0], want)
	}
}

func TestCallsKeepNewest(t *testing.T) {
	if testing.Short() {
		t.Skip("writes over a thousand records")
	}
	s := openTest(t, t.TempDir())
	ctx := testCtx(t)
	n := maxCallsPerUser + 30
	for i := range n {
		// Alternate callees: alice's history is full, each callee's is half.
		if err := s.SaveCall(ctx, callRecord(fmt.Sprint(i), "alice", fmt.Sprint("peer", i%2))); err != nil {
			t.Fatal(err)
		}
	}
	info, err := s.calls.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(maxCallsPerUser + n); info.State.Msgs != want {
		t.Fatalf("stream holds %d records, want %d", info.State.Msgs, want)
	}
	for _, limit := range []int{1, 7, 500, 10000} {
		got, err := s.Calls(ctx, "alice", limit)
		if err != nil {
			t.Fatal(err)
		}
		want := min(limit, MaxCallsLimit)
		if len(got) != want {
			t.Fatalf("Calls(limit %d) returned %d", limit, len(got))
		}
		for j, r := range got {
			if r.ID != fmt.Sprint(n-1-j) {
				t.Fatalf("Calls(limit %d)[%d] = %s, want %d", limit, j, r.ID, n-1-j)
			}
		}
	}
}

func TestCallsInvalidNames(t *testing.T) {
	s := openTest(t, t.TempDir())
	ctx := testCtx(t)
	for _, id := range []string{"", strings.Repeat("x", MaxNameLen+1), "\xff"} {
		if err := s.SaveCall(ctx, callRecord("a", id, "bob")); !errors.Is(err, ErrInvalidName) {
			t.Errorf("SaveCall from %q: %v, want ErrInvalidName", id, err)
		}
		if err := s.SaveCall(ctx, callRecord("b", "bob", id)); !errors.Is(err, ErrInvalidName) {
			t.Errorf("SaveCall to %q: %v, want ErrInvalidName", id, err)
		}
		if _, err := s.Calls(ctx, id, 10); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Calls of %q: %v, want ErrInvalidName", id, err)
		}
	}
	// A record with a bad callee is not half-saved to its caller's history.
	if got, _ := s.Calls(ctx, "bob", 10); len(got) != 0 {
		t.Fatalf("bob's history after refused saves = %s", callIDs(got))
	}
	// Wildcard-looking identities are histories of their own.
	for _, id := range []string{"*", ">", "a.>", "a"} {
		if err := s.SaveCall(ctx, callRecord("to "+id, "zed", id)); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := s.Calls(ctx, "a", 10); callIDs(got) != "[to a]" {
		t.Fatalf("history of \"a\" = %s", callIDs(got))
	}
	if got, _ := s.Calls(ctx, ">", 10); callIDs(got) != "[to >]" {
		t.Fatalf("history of \">\" = %s", callIDs(got))
	}
}

func TestUsersAndCallsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := testCtx(t)
	s, err := Open(ctx, Config{DataDir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	set := call.Settings{TimeZone: "America/New_York", AvailableFrom: "09:00", AvailableTo: "17:00", Accept: []string{}}
	if err := s.RememberUser(ctx, "alice", "Alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSettings(ctx, "alice", set); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveCall(ctx, callRecord("c1", "alice", "bob")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTest(t, dir)
	got, ok, err := s.Settings(ctx, "alice")
	if err != nil || !ok || !reflect.DeepEqual(got, set) {
		t.Fatalf("settings after restart = %+v, %v, %v; want %+v", got, ok, err, set)
	}
	if u, _, _ := s.getUser(ctx, "alice"); u.Name != "Alice" {
		t.Fatalf("name after restart = %q", u.Name)
	}
	for _, who := range []string{"alice", "bob"} {
		if recs, err := s.Calls(ctx, who, 0); err != nil || callIDs(recs) != "[c1]" {
			t.Fatalf("calls of %s after restart = %s, %v", who, callIDs(recs), err)
		}
	}
	// bob was only called: he never connected.
	if ok, _ := s.UserExists(ctx, "bob"); ok {
		t.Fatal("bob exists after restart")
	}
}
