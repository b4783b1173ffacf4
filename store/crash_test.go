package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// crashDirEnv tells the test binary, re-executed by TestKillLosesNoAcknowledgedMessage,
// to act as the process that gets killed.
const crashDirEnv = "STORE_TEST_CRASH_DIR"

// TestKillLosesNoAcknowledgedMessage kills (SIGKILL, no Close) a process while it
// appends as fast as it can, then opens its data directory: every append that
// process saw acknowledged must be there, and the sequence must go on from the
// last stored one.
func TestKillLosesNoAcknowledgedMessage(t *testing.T) {
	if os.Getenv(crashDirEnv) != "" {
		t.Skip("this is the process to be killed")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashVictim$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The victim prints "acked <seq>" after each acknowledged append.
	var acked uint64
	lines := bufio.NewScanner(out)
	for acked < 300 && lines.Scan() {
		if v, ok := strings.CutPrefix(lines.Text(), "acked "); ok {
			if acked, err = strconv.ParseUint(v, 10, 64); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // killed: its error is expected
	if acked < 300 {
		t.Fatalf("victim stopped after %d acknowledged appends: %v", acked, lines.Err())
	}

	s := openTest(t, dir)
	ctx := testCtx(t)
	last, err := s.LastChatSeq(ctx, "crash")
	if err != nil {
		t.Fatal(err)
	}
	if last < acked {
		t.Fatalf("after the kill the room's last sequence is %d; %d was acknowledged", last, acked)
	}
	got, err := s.ChatSince(ctx, "crash", 0, MaxHistoryLimit)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range got {
		if m.Seq != uint64(i+1) || m.Text != fmt.Sprint("message ", m.Seq) {
			t.Fatalf("after the kill message %d is %+v", i, m)
		}
	}
	if uint64(len(got)) < min(acked, MaxHistoryLimit) {
		t.Fatalf("after the kill %d messages remain; %d were acknowledged", len(got), acked)
	}
	next, err := s.AppendChat(ctx, ChatMessage{Room: "crash", Text: "after"})
	if err != nil || next.Seq != last+1 {
		t.Fatalf("append after the kill: %+v, %v; want seq %d", next, err, last+1)
	}
}

// TestCrashVictim is the process TestKillLosesNoAcknowledgedMessage kills. It
// does nothing unless run by it.
func TestCrashVictim(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestKillLosesNoAcknowledgedMessage")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	// Append until killed; the deadline only guards against an orphan.
	for ctx.Err() == nil {
		seq, err := s.LastChatSeq(ctx, "crash")
		if err != nil {
			t.Fatal(err)
		}
		m, err := s.AppendChat(ctx, ChatMessage{Room: "crash", Text: fmt.Sprint("message ", seq+1)})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("acked %d\n", m.Seq)
	}
}
