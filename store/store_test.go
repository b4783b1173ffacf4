package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// testCtx is a context bounded well below the package's time budget.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("STORE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// openTest opens an embedded store in dir, closed at the end of the test.
func openTest(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(testCtx(t), Config{DataDir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// appendN appends n user messages "<prefix> 1" ... to room.
func appendN(t testing.TB, s *Store, room, prefix string, n int) []ChatMessage {
	t.Helper()
	ctx := testCtx(t)
	out := make([]ChatMessage, 0, n)
	for i := 1; i <= n; i++ {
		m, err := s.AppendChat(ctx, ChatMessage{Room: room, From: "alice", Name: "Alice", Text: fmt.Sprintf("%s %d", prefix, i)})
		if err != nil {
			t.Fatalf("AppendChat %d: %v", i, err)
		}
		out = append(out, m)
	}
	return out
}

// seqs lists the sequences of ms.
func seqs(ms []ChatMessage) []uint64 {
	out := make([]uint64, len(ms))
	for i, m := range ms {
		out[i] = m.Seq
	}
	return out
}

func TestRestartKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	ctx := testCtx(t)
	s, err := Open(ctx, Config{DataDir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	sent := appendN(t, s, "persist", "before", 40)
	if err := s.DeleteChat(ctx, "persist", 40); err != nil { // the tail: its sequence must survive
		t.Fatal(err)
	}
	if err := s.SaveLive(ctx, liveRecord("persist", "L1", time.Now())); err != nil {
		t.Fatal(err)
	}
	if err := s.AddReport(ctx, Report{Room: "persist", Seq: 3, Reporter: "bob", Reason: "spam"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Ban(ctx, "persist", "mallory", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openTest(t, dir)
	got, err := s.ChatHistory(ctx, "persist", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 39 {
		t.Fatalf("history after restart has %d messages, want 39", len(got))
	}
	for i, m := range got {
		want := sent[i]
		if m.Seq != want.Seq || m.ID != want.ID || m.Text != want.Text || !m.At.Equal(want.At) {
			t.Fatalf("message %d after restart = %+v, want %+v", i, m, want)
		}
	}
	next, err := s.AppendChat(ctx, ChatMessage{Room: "persist", Text: "after"})
	if err != nil {
		t.Fatal(err)
	}
	if next.Seq != 41 {
		t.Fatalf("first append after restart got seq %d, want 41", next.Seq)
	}
	lives, err := s.Lives(ctx, "persist")
	if err != nil || len(lives) != 1 || lives[0].ID != "L1" {
		t.Fatalf("lives after restart = %v, %v", lives, err)
	}
	reports, err := s.Reports(ctx, "persist")
	if err != nil || len(reports) != 1 || reports[0].Reporter != "bob" {
		t.Fatalf("reports after restart = %v, %v", reports, err)
	}
	if banned, err := s.Banned(ctx, "persist", "mallory"); err != nil || !banned {
		t.Fatalf("ban after restart = %v, %v", banned, err)
	}
}

func TestSecondOpenOnSameDirFails(t *testing.T) {
	dir := t.TempDir()
	openTest(t, dir)
	s, err := Open(testCtx(t), Config{DataDir: dir})
	if err == nil {
		_ = s.Close()
		t.Fatal("a second Open on a directory in use succeeded")
	}
	if !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Open: %v", err)
	}
}

func TestOpenNeedsDataDir(t *testing.T) {
	if _, err := Open(testCtx(t), Config{}); err == nil {
		t.Fatal("Open without DataDir or NATSURL succeeded")
	}
	if _, err := Open(testCtx(t), Config{DataDir: t.TempDir(), Replicas: 3}); err == nil {
		t.Fatal("Open of the embedded server with 3 replicas succeeded")
	}
}

func TestHostileNames(t *testing.T) {
	s := openTest(t, t.TempDir())
	ctx := testCtx(t)
	rooms := []string{"a.b", "a", "b", "*", ">", "a.*", "a.>", "a b", "chat.m", "日本語の部屋 🎥", "\x00\x01\n\t", strings.Repeat("x", MaxNameLen)}
	for i, r := range rooms {
		appendN(t, s, r, r, i+1)
	}
	// Each room sees only its own messages, with its own sequences.
	for i, r := range rooms {
		got, err := s.ChatHistory(ctx, r, 0, 100)
		if err != nil {
			t.Fatalf("history of %q: %v", r, err)
		}
		if len(got) != i+1 {
			t.Fatalf("room %q has %d messages, want %d", r, len(got), i+1)
		}
		for j, m := range got {
			if m.Room != r || m.Seq != uint64(j+1) || m.Text != fmt.Sprintf("%s %d", r, j+1) {
				t.Fatalf("room %q message %d = %+v", r, j, m)
			}
		}
		if err := s.Ban(ctx, r, "*.>", time.Time{}); err != nil {
			t.Fatalf("ban in %q: %v", r, err)
		}
	}
	// A wildcard room's clear touches nothing else.
	if err := s.ClearChat(ctx, ">"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ChatHistory(ctx, "a", 0, 10); len(got) != 2 {
		t.Fatalf("clearing room \">\" left room \"a\" with %d messages", len(got))
	}
	if banned, err := s.Banned(ctx, "a", "*"); err != nil || banned {
		t.Fatalf("identity \"*\" banned by a ban of \"*.>\": %v, %v", banned, err)
	}

	bad := []string{"", strings.Repeat("x", MaxNameLen+1), "\xff"}
	for _, r := range bad {
		if _, err := s.AppendChat(ctx, ChatMessage{Room: r, Text: "x"}); !errors.Is(err, ErrInvalidName) {
			t.Errorf("AppendChat to room %q: %v, want ErrInvalidName", r, err)
		}
		if _, err := s.ChatHistory(ctx, r, 0, 10); !errors.Is(err, ErrInvalidName) {
			t.Errorf("ChatHistory of room %q: %v, want ErrInvalidName", r, err)
		}
		if err := s.SaveLive(ctx, liveRecord(r, "x", time.Now())); !errors.Is(err, ErrInvalidName) {
			t.Errorf("SaveLive to room %q: %v, want ErrInvalidName", r, err)
		}
		if err := s.AddReport(ctx, Report{Room: r}); !errors.Is(err, ErrInvalidName) {
			t.Errorf("AddReport to room %q: %v, want ErrInvalidName", r, err)
		}
		if err := s.Ban(ctx, r, "bob", time.Time{}); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Ban in room %q: %v, want ErrInvalidName", r, err)
		}
	}
	if err := s.Ban(ctx, "a", "", time.Time{}); !errors.Is(err, ErrInvalidName) {
		t.Errorf("Ban of the empty identity: %v, want ErrInvalidName", err)
	}
}

// TestExternalNATS runs the store against a separate server reached over TCP,
// the way a cluster of SFU nodes shares one NATS, with two stores on it.
func TestExternalNATS(t *testing.T) {
	ns, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      -1, // a random free port
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoSigs:    true,
		NoLog:     true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("external NATS not ready")
	}
	ctx := testCtx(t)
	open := func() *Store {
		s, err := Open(ctx, Config{NATSURL: ns.ClientURL(), Logger: testLogger(t)})
		if err != nil {
			t.Fatalf("Open external: %v", err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	a, b := open(), open()
	m1, err := a.AppendChat(ctx, ChatMessage{Room: "shared", Text: "from node a"})
	if err != nil {
		t.Fatal(err)
	}
	m2, err := b.AppendChat(ctx, ChatMessage{Room: "shared", Text: "from node b"})
	if err != nil {
		t.Fatal(err)
	}
	if m1.Seq != 1 || m2.Seq != 2 {
		t.Fatalf("sequences across nodes = %d, %d; want 1, 2", m1.Seq, m2.Seq)
	}
	got, err := a.ChatHistory(ctx, "shared", 0, 10)
	if err != nil || len(got) != 2 || got[1].Text != "from node b" {
		t.Fatalf("history seen by node a = %+v, %v", got, err)
	}
	if err := b.Ban(ctx, "shared", "mallory", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if banned, err := a.Banned(ctx, "shared", "mallory"); err != nil || !banned {
		t.Fatalf("ban by node b seen by node a: %v, %v", banned, err)
	}
}
