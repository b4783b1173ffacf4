package server_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// Participants that come and go (media, chat, a live that ends) leave no
// goroutines behind on the server.
func TestNoGoroutineLeak(t *testing.T) {
	e := newEnv(t)
	base := settledGoroutines()
	for round := 0; round < 3; round++ {
		room := fmt.Sprintf("leak%d", round)
		var viewers []interface{ Close() error }
		for i := 0; i < 10; i++ {
			c := e.join(room, fmt.Sprintf("v%d", i), auth.RoleViewer, nil)
			viewers = append(viewers, c)
		}
		h := e.startHost(room, "host", hostOptions{})
		time.Sleep(500 * time.Millisecond)
		if err := h.c.EndLive(); err != nil {
			t.Fatal(err)
		}
		// Close does not flush the send queue: wait until end_live took effect.
		nextEvent(t, h.c, wire.TypeLiveEnded, 5*time.Second)
		h.stop()
		h.c.Close()
		for _, v := range viewers {
			v.Close()
		}
	}
	expectGoroutinesBack(t, base)
}

// settledGoroutines is the goroutine count once in-flight work had a moment
// to end.
func settledGoroutines() int {
	time.Sleep(300 * time.Millisecond)
	return runtime.NumGoroutine()
}

// expectGoroutinesBack fails, with every stack, unless the goroutines return
// to within 5 of base. The wait is generous: a leak never settles.
func expectGoroutinesBack(t *testing.T, base int) {
	t.Helper()
	now := settledGoroutines()
	for deadline := time.Now().Add(30 * time.Second); now > base+5 && time.Now().Before(deadline); now = settledGoroutines() {
	}
	if now > base+5 {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Fatalf("%d goroutines after the rounds, %d before\n%s", now, base, buf[:min(n, 20000)])
	}
}
