package whip_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/server"
	"github.com/talkrelay/talkrelay/server/servertest"
)

// noCodecOffer is a well-formed offer with nothing we can forward.
const noCodecOffer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 45\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\na=rtpmap:45 AV1/90000\r\n"

// Every status code of the list, each from the request that earns it.
func TestStatusCodes(t *testing.T) {
	n := startNode(t)
	host := n.token("demo", "alice", auth.RoleHost)
	viewer := n.token("demo", "carol", auth.RoleViewer)
	_, pubOffer := n.newPublisher()
	_, viewOffer := n.newViewer(nil)
	sendonlyAsWHEP := pubOffer // a WHEP offer must receive

	cases := []struct {
		name, method, path, token, ctype, body string
		headers                                []string
		status                                 int
		header                                 string // a header the answer must carry
	}{
		{"no token", "POST", "/whip/demo", "", "application/sdp", pubOffer, nil, 401, "WWW-Authenticate"},
		{"bad token", "POST", "/whip/demo", "not-a-jwt", "application/sdp", pubOffer, nil, 401, "WWW-Authenticate"},
		{"viewer publishes", "POST", "/whip/demo", viewer, "application/sdp", pubOffer, nil, 403, ""},
		{"host watches over WHEP", "POST", "/whep/demo", host, "application/sdp", viewOffer, nil, 403, ""},
		{"token of another room", "POST", "/whip/other", host, "application/sdp", pubOffer, nil, 403, ""},
		{"not SDP", "POST", "/whip/demo", host, "text/plain", pubOffer, nil, 415, ""},
		{"no content type", "POST", "/whep/demo", viewer, "", viewOffer, nil, 415, ""},
		{"malformed SDP", "POST", "/whip/demo", host, "application/sdp", "hello", nil, 400, ""},
		{"offer too large", "POST", "/whip/demo", host, "application/sdp", strings.Repeat("a=x\r\n", 40000), nil, 413, ""},
		{"no usable codec", "POST", "/whip/demo", host, "application/sdp", noCodecOffer, nil, 422, ""},
		{"WHEP not live", "POST", "/whep/demo", viewer, "application/sdp", viewOffer, nil, 409, "Retry-After"},
		{"PATCH unknown session", "PATCH", "/whip/demo/nope", host, "application/trickle-ice-sdpfrag", "a=end-of-candidates\r\n", []string{"If-Match", "*"}, 404, ""},
		{"DELETE unknown session", "DELETE", "/whep/demo/nope", viewer, "", "", nil, 404, ""},
		{"GET the endpoint", "GET", "/whip/demo", host, "", "", nil, 404, ""},
		{"PUT the endpoint", "PUT", "/whip/demo", host, "application/sdp", pubOffer, nil, 405, "Allow"},
		{"OPTIONS the endpoint", "OPTIONS", "/whip/demo", "", "", "", []string{"Origin", "https://studio.example", "Access-Control-Request-Method", "POST"}, 204, "Accept-Post"},
		{"OPTIONS a session", "OPTIONS", "/whep/demo/any", "", "", "", nil, 204, "Accept-Patch"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := n.request(c.method, c.path, c.token, c.ctype, c.body, c.headers...)
			wantStatus(t, res, c.status)
			if c.header != "" && res.Header.Get(c.header) == "" {
				t.Fatalf("no %s header: %v", c.header, res.Header)
			}
			if c.method != "GET" && c.method != "PUT" && res.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Fatal("no CORS header")
			}
		})
	}

	// With a live on: a second host identity conflicts, a WHEP offer that
	// only sends is unusable.
	p := n.publish("demo", "alice")
	servertest.WaitFor(t, 10*time.Second, "the live started", func() bool {
		info, ok := n.Rooms().Room("demo")
		return ok && info.Live != nil
	})
	_, other := n.newPublisher()
	wantStatus(t, n.request("POST", "/whip/demo", n.token("demo", "mallory", auth.RoleHost), "application/sdp", other), 409)
	wantStatus(t, n.request("POST", "/whep/demo", viewer, "application/sdp", sendonlyAsWHEP), 422)

	// PATCH preconditions on a live session.
	frag := "a=ice-ufrag:" + ufragOf(p.pc.LocalDescription().SDP) + "\r\na=end-of-candidates\r\n"
	patch := func(token, ctype, body string, headers ...string) *http.Response {
		return n.request("PATCH", p.resource, token, ctype, body, headers...)
	}
	wantStatus(t, patch(host, "application/trickle-ice-sdpfrag", frag), 428)
	wantStatus(t, patch(host, "application/trickle-ice-sdpfrag", frag, "If-Match", `"stale"`), 412)
	wantStatus(t, patch(host, "application/sdp", frag, "If-Match", p.etag), 415)
	wantStatus(t, patch(host, "application/trickle-ice-sdpfrag", "garbage", "If-Match", p.etag), 400)
	wantStatus(t, patch(viewer, "application/trickle-ice-sdpfrag", frag, "If-Match", p.etag), 403)
	wantStatus(t, patch(n.token("demo", "mallory", auth.RoleHost), "application/trickle-ice-sdpfrag", frag, "If-Match", p.etag), 403)
	wantStatus(t, patch("", "application/trickle-ice-sdpfrag", frag, "If-Match", p.etag), 401)
	trickle := "a=ice-ufrag:" + ufragOf(p.pc.LocalDescription().SDP) + "\r\n" +
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n" +
		"a=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host\r\na=end-of-candidates\r\n"
	wantStatus(t, patch(host, "application/trickle-ice-sdpfrag", trickle, "If-Match", p.etag), 204)
	wantStatus(t, patch(host, "application/trickle-ice-sdpfrag", trickle, "If-Match", `W/`+p.etag), 412)
}

func ufragOf(sdp string) string {
	for _, line := range strings.Split(sdp, "\r\n") {
		if v, ok := strings.CutPrefix(line, "a=ice-ufrag:"); ok {
			return v
		}
	}
	return ""
}

// 503 with Retry-After when the server is full and when it is shutting down.
func TestUnavailable(t *testing.T) {
	n := startNode(t, func(c *server.Config) { c.MaxRooms = 1 })
	n.publish("busy", "alice")
	_, offer := n.newPublisher()
	res := n.request("POST", "/whip/demo", n.token("demo", "bob", auth.RoleHost), "application/sdp", offer)
	wantStatus(t, res, http.StatusServiceUnavailable)
	if res.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}

	n.Rooms().Shutdown() // the rooms are closing; HTTP still answers
	res = n.request("POST", "/whip/demo", n.token("demo", "bob", auth.RoleHost), "application/sdp", offer)
	wantStatus(t, res, http.StatusServiceUnavailable)
	if res.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	_, voffer := n.newViewer(nil)
	wantStatus(t, n.request("POST", "/whep/busy", n.token("busy", "carol", auth.RoleViewer), "application/sdp", voffer), http.StatusServiceUnavailable)
}
