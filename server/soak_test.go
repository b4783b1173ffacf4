package server_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// soak is how long TestChurnSoak churns; CI runs the short default, a longer
// soak is `go test ./server -run ChurnSoak -soak 10m -timeout 20m`.
var soak = flag.Duration("soak", 8*time.Second, "how long TestChurnSoak churns")

// Viewers join and leave continuously while chat flows and the host mutes and
// unmutes; afterwards the server's goroutines and heap return to where they
// were, and the viewers still connected at the end receive media.
func TestChurnSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("churns for a while")
	}
	e := newEnv(t)
	settle := func() (int, uint64) {
		time.Sleep(300 * time.Millisecond)
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return runtime.NumGoroutine(), ms.HeapAlloc
	}
	baseG, baseHeap := settle()

	h := e.startHost("soak", "host", hostOptions{})
	stop := time.Now().Add(*soak)
	var wg sync.WaitGroup
	var joins, chats int64
	var mu sync.Mutex
	for w := range 4 {
		wg.Add(1)
		// Churner: owned by the test, ends at the deadline.
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := 0; time.Now().Before(stop); i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				c, err := client.Join(ctx, client.Config{URL: e.url, Token: e.token("soak", fmt.Sprintf("v%d-%d", w, i), auth.RoleViewer), Room: "soak", API: e.api})
				cancel()
				if err != nil {
					t.Errorf("join: %v", err)
					return
				}
				mu.Lock()
				joins++
				mu.Unlock()
				select {
				case <-c.ChatReady():
					if c.SendChat([]byte(`{"type":"send","text":"hi from the churn"}`)) == nil {
						mu.Lock()
						chats++
						mu.Unlock()
					}
				case <-time.After(5 * time.Second):
				}
				time.Sleep(time.Duration(200+rng.IntN(600)) * time.Millisecond)
				if rng.IntN(2) == 0 {
					_ = c.Leave()
				} else {
					_ = c.Close() // a dropped viewer
				}
			}
		}()
	}
	// The host toggles its camera while the audience churns.
	for muted := true; time.Now().Before(stop); muted = !muted {
		if err := h.c.SetMuted("video", muted); err != nil {
			t.Fatal(err)
		}
		time.Sleep(700 * time.Millisecond)
	}
	_ = h.c.SetMuted("video", false)
	wg.Wait()

	// A viewer arriving after the churn is served normally.
	r := &recorder{}
	last := e.join("soak", "late", auth.RoleViewer, r.onTrack)
	waitFor(t, 10*time.Second, "media after the churn", func() bool { v, a := r.counts(); return v > 20 && a > 20 })
	if err := h.c.EndLive(); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, h.c, wire.TypeLiveEnded, 5*time.Second)
	h.stop()
	h.c.Close()
	last.Close()
	t.Logf("%d joins and %d chat messages in %v", joins, chats, *soak)
	if joins < 10 {
		t.Fatalf("only %d joins: the churn did not churn", joins)
	}

	var g int
	var heap uint64
	deadline := time.Now().Add(30 * time.Second)
	for g, heap = settle(); (g > baseG+5 || heap > baseHeap+32<<20) && time.Now().Before(deadline); g, heap = settle() {
	}
	t.Logf("goroutines %d → %d, heap %d → %d KiB", baseG, g, baseHeap>>10, heap>>10)
	if g > baseG+5 {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Fatalf("%d goroutines after the churn, %d before\n%s", g, baseG, buf[:min(n, 20000)])
	}
	if heap > baseHeap+32<<20 {
		t.Errorf("heap %d KiB after the churn, %d KiB before", heap>>10, baseHeap>>10)
	}
}
