package call

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

func memRecord(id, caller, callee string) Record {
	start := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	return Record{
		ID: id, Caller: caller, CallerName: caller + " name", Callee: callee, Mode: ModeVoice,
		StartedAt: start, EndedAt: start.Add(time.Minute), Outcome: OutcomeNoAnswer,
	}
}

func recordIDs(recs []Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

func TestMemoryStoreUsersAndSettings(t *testing.T) {
	ctx := context.Background()
	m := NewMemoryStore()
	if ok, err := m.UserExists(ctx, "alice"); err != nil || ok {
		t.Fatalf("UserExists of a stranger = %v, %v", ok, err)
	}
	if _, ok, err := m.Settings(ctx, "alice"); err != nil || ok {
		t.Fatalf("Settings of a stranger: ok %v, %v", ok, err)
	}
	if err := m.RememberUser(ctx, "alice", "Alice"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := m.UserExists(ctx, "alice"); !ok {
		t.Fatal("alice connected but does not exist")
	}
	// Saving settings also makes a user known.
	accept := []string{ModeVoice}
	want := Settings{TimeZone: "Asia/Seoul", AvailableFrom: "22:00", AvailableTo: "07:00", Accept: accept}
	if err := m.PutSettings(ctx, "bob", want); err != nil {
		t.Fatal(err)
	}
	accept[0] = ModeVideo // the store holds its own copy
	got, ok, err := m.Settings(ctx, "bob")
	if err != nil || !ok || got.TimeZone != "Asia/Seoul" || got.AvailableTo != "07:00" || len(got.Accept) != 1 || got.Accept[0] != ModeVoice {
		t.Fatalf("Settings(bob) = %+v, %v, %v", got, ok, err)
	}
	got.Accept[0] = ModeChat // and hands out copies
	if again, _, _ := m.Settings(ctx, "bob"); again.Accept[0] != ModeVoice {
		t.Fatalf("changing a returned list changed the store: %v", again.Accept)
	}
	if ok, _ := m.UserExists(ctx, "bob"); !ok {
		t.Fatal("bob saved settings but does not exist")
	}
	// "Accept none" stays an empty list, not nil (which is "accept all").
	if err := m.PutSettings(ctx, "bob", Settings{Accept: []string{}}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := m.Settings(ctx, "bob"); got.Accept == nil || len(got.Accept) != 0 {
		t.Fatalf("accept none came back as %#v", got.Accept)
	}
	// Being called does not make a user known.
	if err := m.SaveCall(ctx, memRecord("c1", "alice", "carol")); err != nil {
		t.Fatal(err)
	}
	if ok, _ := m.UserExists(ctx, "carol"); ok {
		t.Fatal("carol never connected but exists")
	}
	if err := m.RememberUser(ctx, "", "x"); err == nil {
		t.Fatal("RememberUser accepted the empty identity")
	}
}

func TestMemoryStoreCalls(t *testing.T) {
	ctx := context.Background()
	m := NewMemoryStore()
	for i := 1; i <= 5; i++ {
		if err := m.SaveCall(ctx, memRecord(fmt.Sprint("c", i), "alice", "bob")); err != nil {
			t.Fatal(err)
		}
	}
	// A retry is stored once; a call to oneself once.
	if err := m.SaveCall(ctx, memRecord("c3", "alice", "bob")); err != nil {
		t.Fatal(err)
	}
	if err := m.SaveCall(ctx, memRecord("self", "alice", "alice")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		who   string
		limit int
		want  string
	}{
		{"alice", 0, "[self c5 c4 c3 c2 c1]"},
		{"alice", 2, "[self c5]"},
		{"bob", -1, "[c5 c4 c3 c2 c1]"},
		{"bob", 1, "[c5]"},
		{"carol", 10, "[]"},
	} {
		got, err := m.Calls(ctx, tc.who, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if got == nil || fmt.Sprint(recordIDs(got)) != tc.want {
			t.Errorf("Calls(%s, %d) = %v, want %s", tc.who, tc.limit, recordIDs(got), tc.want)
		}
	}
	if err := m.SaveCall(ctx, memRecord("x", "", "bob")); err == nil {
		t.Fatal("SaveCall accepted a record without a caller")
	}
}

func TestMemoryStoreKeepsNewest(t *testing.T) {
	ctx := context.Background()
	m := NewMemoryStore()
	n := maxMemCalls + 20
	for i := range n {
		if err := m.SaveCall(ctx, memRecord(fmt.Sprint(i), "alice", "bob")); err != nil {
			t.Fatal(err)
		}
	}
	u := m.users["alice"]
	if len(u.calls) != maxMemCalls || len(u.ids) != maxMemCalls {
		t.Fatalf("kept %d calls and %d ids, want %d", len(u.calls), len(u.ids), maxMemCalls)
	}
	got, _ := m.Calls(ctx, "alice", 1000)
	if len(got) != 500 || got[0].ID != fmt.Sprint(n-1) || got[499].ID != fmt.Sprint(n-500) {
		t.Fatalf("Calls(limit 1000) returned %d, newest %s, oldest %s", len(got), got[0].ID, got[len(got)-1].ID)
	}
	// An evicted ID may be stored again: it is a new call as far as the store knows.
	if err := m.SaveCall(ctx, memRecord("0", "alice", "bob")); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Calls(ctx, "alice", 1); got[0].ID != "0" {
		t.Fatalf("newest = %s, want 0", got[0].ID)
	}
}

func TestMemoryStoreConcurrent(t *testing.T) {
	ctx := context.Background()
	m := NewMemoryStore()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				me, peer := fmt.Sprint("u", g), fmt.Sprint("u", (g+1)%8)
				_ = m.RememberUser(ctx, me, "name")
				_ = m.PutSettings(ctx, me, Settings{Accept: []string{ModeVoice}})
				_, _, _ = m.Settings(ctx, peer)
				_, _ = m.UserExists(ctx, peer)
				_ = m.SaveCall(ctx, memRecord(fmt.Sprint(g, "-", i), me, peer))
				_, _ = m.Calls(ctx, peer, 10)
			}
		})
	}
	wg.Wait()
	for g := range 8 {
		if got, _ := m.Calls(ctx, fmt.Sprint("u", g), 500); len(got) != 200 {
			t.Errorf("u%d has %d calls, want 200", g, len(got))
		}
	}
}
