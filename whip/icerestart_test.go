package whip_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/server/servertest"
)

// restartICE does a WHIP/WHEP client's ICE restart (RFC 9725 §4.3.2): a new
// offer's credentials and candidates go in a PATCH with If-Match: *, and the
// server's new ones, from the 200's fragment, complete the old answer.
func restartICE(t *testing.T, n *node, pc *webrtc.PeerConnection, resource, token, answer string) (string, string) {
	t.Helper()
	offer := offerFrom(t, pc, &webrtc.OfferOptions{ICERestart: true})
	var frag strings.Builder
	section := 0
	for _, line := range strings.Split(offer, "\r\n") {
		switch {
		case strings.HasPrefix(line, "m="):
			section++
			if section == 1 {
				frag.WriteString(line + "\r\n")
			}
		case section == 0:
		case section == 1 && (strings.HasPrefix(line, "a=ice-ufrag:") || strings.HasPrefix(line, "a=ice-pwd:") ||
			strings.HasPrefix(line, "a=mid:") || strings.HasPrefix(line, "a=candidate:")):
			frag.WriteString(line + "\r\n")
		}
	}
	frag.WriteString("a=end-of-candidates\r\n")
	res := n.request("PATCH", resource, token, "application/trickle-ice-sdpfrag", frag.String(), "If-Match", "*")
	body := wantStatus(t, res, http.StatusOK)
	if ct := res.Header.Get("Content-Type"); ct != "application/trickle-ice-sdpfrag" {
		t.Fatalf("restart answered with %q", ct)
	}
	etag := res.Header.Get("ETag")
	var ufrag, pwd string
	var cands []string
	for _, line := range strings.Split(body, "\r\n") {
		if v, ok := strings.CutPrefix(line, "a=ice-ufrag:"); ok {
			ufrag = v
		}
		if v, ok := strings.CutPrefix(line, "a=ice-pwd:"); ok {
			pwd = v
		}
		if v, ok := strings.CutPrefix(line, "a="); ok && strings.HasPrefix(v, "candidate:") {
			cands = append(cands, v)
		}
	}
	if ufrag == "" || pwd == "" || len(cands) == 0 || ufrag == ufragOf(answer) {
		t.Fatalf("restart fragment without new credentials or candidates:\n%s", body)
	}
	var next strings.Builder
	for _, line := range strings.Split(answer, "\r\n") {
		switch {
		case line == "", strings.HasPrefix(line, "a=candidate:"), line == "a=end-of-candidates":
			continue
		case strings.HasPrefix(line, "a=ice-ufrag:"):
			line = "a=ice-ufrag:" + ufrag
		case strings.HasPrefix(line, "a=ice-pwd:"):
			line = "a=ice-pwd:" + pwd
		}
		next.WriteString(line + "\r\n")
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: next.String()}); err != nil {
		t.Fatal(err)
	}
	for _, c := range cands {
		if err := pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: c}); err != nil {
			t.Fatal(err)
		}
	}
	return next.String(), etag
}

// ICE restarts of a WHIP publisher and a WHEP viewer by PATCH: new ETags,
// media flows on over the new ICE sessions, the old ETag no longer matches.
func TestICERestart(t *testing.T) {
	n := startNode(t)
	host := n.token("demo", "alice", auth.RoleHost)
	p := n.publish("demo", "alice")
	servertest.WaitFor(t, 10*time.Second, "the live started", func() bool {
		info, ok := n.Rooms().Room("demo")
		return ok && info.Live != nil
	})
	v := n.watch("demo", "carol")
	v.receives(t, "WHEP viewer receives")

	answer, etag := restartICE(t, n, p.pc, p.resource, host, p.answer)
	if etag == "" || etag == p.etag {
		t.Fatalf("ETag after the restart %q (before %q)", etag, p.etag)
	}
	v.receives(t, "media flows after the publisher's ICE restart")
	stale := "a=ice-ufrag:" + ufragOf(p.pc.LocalDescription().SDP) + "\r\na=end-of-candidates\r\n"
	wantStatus(t, n.request("PATCH", p.resource, host, "application/trickle-ice-sdpfrag", stale, "If-Match", p.etag), http.StatusPreconditionFailed)
	wantStatus(t, n.request("PATCH", p.resource, host, "application/trickle-ice-sdpfrag", stale, "If-Match", etag), http.StatusNoContent)
	_ = answer

	viewer := n.token("demo", "carol", auth.RoleViewer)
	_, vetag := restartICE(t, n, v.pc, v.resource, viewer, v.answer)
	if vetag == v.etag {
		t.Fatal("WHEP ETag unchanged by the restart")
	}
	v.receives(t, "media flows after the viewer's ICE restart")
	if v.pc.ConnectionState() != webrtc.PeerConnectionStateConnected {
		t.Fatalf("viewer %s after its restart", v.pc.ConnectionState())
	}
}
