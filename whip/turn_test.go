package whip_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/server"
)

// With the embedded TURN server on, a WHIP answer's Link headers carry its
// URLs with short-lived credentials for the session's identity.
func TestWHIPLinkHeadersCarryTURNCredentials(t *testing.T) {
	n := startNode(t, func(c *server.Config) {
		c.TURN = server.TURNConfig{UDPPort: server.AnyPort, TCPPort: server.AnyPort}
	})
	_, offer := n.newPublisher()
	res := n.request("POST", "/whip/turn", n.token("turn", "alice", auth.RoleHost), "application/sdp", offer)
	wantStatus(t, res, http.StatusCreated)
	links := res.Header.Values("Link")
	if len(links) != 2 {
		t.Fatalf("Link headers %q: want the TURN server's UDP and TCP URLs", links)
	}
	for i, transport := range []string{"udp", "tcp"} {
		l := links[i]
		if !strings.HasPrefix(l, "<turn:127.0.0.1:") || !strings.Contains(l, "?transport="+transport+">") ||
			!strings.Contains(l, `:alice"; credential="`) || !strings.HasSuffix(l, `credential-type="password"`) {
			t.Fatalf("Link header %q: want a TURN URL over %s with credentials for alice", l, transport)
		}
	}
}
