package store

import (
	"slices"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/room"
)

func TestReportsNewestFirst(t *testing.T) {
	s := openTest(t, t.TempDir())
	ctx := testCtx(t)
	for i, who := range []string{"bob", "carol", "dave"} {
		if err := s.AddReport(ctx, Report{Room: "r", Seq: uint64(i + 1), Reporter: who, Reason: "spam"}); err != nil {
			t.Fatal(err)
		}
		if err := s.AddReport(ctx, Report{Room: "other", Seq: 9, Reporter: who}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Reports(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	var who []string
	for _, r := range got {
		who = append(who, r.Reporter)
		if r.Room != "r" || r.At.IsZero() {
			t.Fatalf("report %+v", r)
		}
	}
	if !slices.Equal(who, []string{"dave", "carol", "bob"}) {
		t.Fatalf("reports = %v, want newest first", who)
	}
	if got, err := s.Reports(ctx, "none"); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("reports of a room without any = %#v, %v; want an empty list", got, err)
	}
}

func TestBans(t *testing.T) {
	s := openTest(t, t.TempDir())
	ctx := testCtx(t)
	check := func(room, who string, want bool) {
		t.Helper()
		got, err := s.Banned(ctx, room, who)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("Banned(%q, %q) = %v, want %v", room, who, got, want)
		}
	}
	check("r", "mallory", false)
	if err := s.Ban(ctx, "r", "mallory", time.Time{}); err != nil {
		t.Fatal(err)
	}
	check("r", "mallory", true)
	check("other", "mallory", false) // bans are per room
	check("r", "mallor", false)

	if err := s.Ban(ctx, "r", "eve", time.Now().Add(400*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	check("r", "eve", true)
	time.Sleep(500 * time.Millisecond)
	check("r", "eve", false) // expired (and removed)
	check("r", "eve", false)

	// A new ban replaces the old: forever, then shortened to the past.
	if err := s.Ban(ctx, "r", "eve", time.Time{}); err != nil {
		t.Fatal(err)
	}
	check("r", "eve", true)
	if err := s.Ban(ctx, "r", "eve", time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	check("r", "eve", false)

	if err := s.Unban(ctx, "r", "mallory"); err != nil {
		t.Fatal(err)
	}
	check("r", "mallory", false)
	if err := s.Unban(ctx, "r", "nobody"); err != nil {
		t.Fatalf("Unban of someone not banned: %v", err)
	}
}

func liveRecord(roomName, id string, start time.Time) room.LiveRecord {
	end := start.Add(90 * time.Second)
	return room.LiveRecord{
		Room: roomName, ID: id, Host: "alice", HostName: "Alice",
		StartedAt: start, EndedAt: end, DurationMS: end.Sub(start).Milliseconds(),
		PeakViewers: 42, EndReason: "host_ended",
	}
}

func TestLivesNewestFirst(t *testing.T) {
	s := openTest(t, t.TempDir())
	ctx := testCtx(t)
	var ls room.LiveStore = s
	start := time.Date(2026, 5, 1, 20, 0, 0, 0, time.UTC)
	for i, id := range []string{"L1", "L2", "L3"} {
		if err := ls.SaveLive(ctx, liveRecord("r", id, start.Add(time.Duration(i)*time.Hour))); err != nil {
			t.Fatal(err)
		}
		if err := ls.SaveLive(ctx, liveRecord("other", "X"+id, start)); err != nil {
			t.Fatal(err)
		}
	}
	// A retried save of the same record stores it once.
	if err := ls.SaveLive(ctx, liveRecord("r", "L3", start.Add(2*time.Hour))); err != nil {
		t.Fatal(err)
	}
	got, err := ls.Lives(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range got {
		ids = append(ids, l.ID)
	}
	if !slices.Equal(ids, []string{"L3", "L2", "L1"}) {
		t.Fatalf("lives = %v, want newest first", ids)
	}
	want := liveRecord("r", "L1", start)
	if g := got[2]; g.Host != want.Host || g.PeakViewers != 42 || g.DurationMS != want.DurationMS ||
		!g.StartedAt.Equal(want.StartedAt) || !g.EndedAt.Equal(want.EndedAt) || g.EndReason != want.EndReason {
		t.Fatalf("stored %+v, want %+v", g, want)
	}
	if got, err := ls.Lives(ctx, "none"); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("lives of a room without any = %#v, %v; want an empty list", got, err)
	}
}
