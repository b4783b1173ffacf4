package whip_test

import (
	"fmt"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/server/servertest"
)

// WHIP and WHEP sessions that come and go (deleted, or ended with their
// live) leave no goroutines behind.
func TestNoGoroutineLeak(t *testing.T) {
	n := startNode(t)
	settle := func() int {
		time.Sleep(300 * time.Millisecond)
		return runtime.NumGoroutine()
	}
	base := settle()
	for round := 0; round < 3; round++ {
		room := fmt.Sprintf("leak%d", round)
		p := n.publish(room, "host")
		servertest.WaitFor(t, 10*time.Second, "the live started", func() bool {
			info, ok := n.Rooms().Room(room)
			return ok && info.Live != nil
		})
		var viewers []*viewer
		for i := 0; i < 3; i++ {
			v := n.watch(room, fmt.Sprintf("v%d", i))
			viewers = append(viewers, v)
		}
		viewers[0].receives(t, "media")
		// One viewer leaves by DELETE; the others end with the live.
		wantStatus(t, n.request("DELETE", viewers[0].resource, n.token(room, "v0", auth.RoleViewer), "", ""), http.StatusOK)
		wantStatus(t, n.request("DELETE", p.resource, n.token(room, "host", auth.RoleHost), "", ""), http.StatusOK)
		servertest.WaitFor(t, 5*time.Second, "no sessions", func() bool { return n.WHIPSessions() == 0 })
		p.stop()
		_ = p.pc.Close()
		for _, v := range viewers {
			_ = v.pc.Close()
		}
	}
	var now int
	deadline := time.Now().Add(30 * time.Second) // generous: a leak never settles
	for now = settle(); now > base+5 && time.Now().Before(deadline); now = settle() {
	}
	if now > base+5 {
		buf := make([]byte, 1<<20)
		k := runtime.Stack(buf, true)
		t.Fatalf("%d goroutines after the rounds, %d before\n%s", now, base, buf[:min(k, 20000)])
	}
}
