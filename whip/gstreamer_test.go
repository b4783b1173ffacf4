package whip_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/server"
	"github.com/talkrelay/talkrelay/server/servertest"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// The GStreamer test runs inside a network namespace of its own: libnice
// gathers no loopback candidates, so the SFU, the GStreamer publisher and the
// pion viewer share a veth pair's addresses (ENVIRONMENT.md). The test binary
// runs itself again under `unshare -rn`; this variable tells the inner run.
const inNetNSEnv = "TALKRELAY_TEST_IN_NETNS"

// The namespace's addresses: the SFU listens on the first.
const (
	nsSFU  = "198.18.0.1"
	nsPeer = "198.18.0.2"
)

// gstCheck imports what the publisher script needs and finds its elements.
const gstCheck = `import gi
gi.require_version('Gst', '1.0'); gi.require_version('GstWebRTC', '1.0'); gi.require_version('GstSdp', '1.0')
from gi.repository import Gst, GstWebRTC, GstSdp
Gst.init(None)
missing = [e for e in ('webrtcbin', 'nicesrc', 'videotestsrc', 'audiotestsrc', 'vp8enc', 'opusenc', 'rtpvp8pay', 'rtpopuspay') if not Gst.ElementFactory.find(e)]
if missing: raise SystemExit('missing GStreamer elements: ' + ', '.join(missing))`

const gstPackages = "python3-gst-1.0 gir1.2-gst-plugins-bad-1.0 gstreamer1.0-nice gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad"

// An independent publisher, GStreamer's webrtcbin with libnice driven from
// Python, publishes test video and audio over WHIP; a pion WHEP viewer
// receives both; the publisher's DELETE ends the live.
func TestGStreamerWHIP(t *testing.T) {
	if os.Getenv("TALKRELAY_SKIP_GSTREAMER") == "1" {
		t.Skip("TALKRELAY_SKIP_GSTREAMER=1: skipping the GStreamer WHIP test")
	}
	if os.Getenv(inNetNSEnv) == "" {
		runInNetNS(t)
		return
	}
	setUpVeth(t)
	n := startNode(t, func(c *server.Config) {
		c.HTTPAddr, c.UDPListenIP, c.IncludeLoopback = nsSFU+":0", nsSFU, false
	})
	script, err := filepath.Abs("testdata/gst_whip_publish.py")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const seconds = 8
	pub := exec.CommandContext(ctx, "/usr/bin/python3", script, n.URL+"/whip/gst", n.token("gst", "encoder", auth.RoleHost), fmt.Sprint(seconds))
	out := &lines{}
	pub.Stdout, pub.Stderr = out, out
	if err := pub.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	// Waiter: owned by the test, ends when the publisher exits (killed at ctx's end).
	go func() { exited <- pub.Wait() }()
	defer func() {
		if t.Failed() {
			t.Logf("publisher output:\n%s", out.String())
		}
	}()
	servertest.WaitFor(t, 20*time.Second, "GStreamer's live started", func() bool {
		info, ok := n.Rooms().Room("gst")
		return ok && info.Live != nil
	})

	api, err := client.NewAPI(client.APIOptions{NetworkTypes: []webrtc.NetworkType{webrtc.NetworkTypeUDP4}})
	if err != nil {
		t.Fatal(err)
	}
	v, offer := n.newViewer(api)
	res := n.request("POST", "/whep/gst", n.token("gst", "viewer", auth.RoleViewer), "application/sdp", offer)
	v.answer = wantStatus(t, res, http.StatusCreated)
	if err := v.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: v.answer}); err != nil {
		t.Fatal(err)
	}
	v.receives(t, "the pion WHEP viewer receives GStreamer's video and audio")
	if got := n.viewers("gst"); got != 1 {
		t.Fatalf("viewers %d, want 1", got)
	}

	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("publisher: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("the publisher did not finish")
	}
	for _, want := range []string{"answer 201 /whip/gst/", "connected", "deleted 200"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("publisher never printed %q", want)
		}
	}
	lives, err := n.Rooms().Lives().Lives(context.Background(), "gst")
	if err != nil || len(lives) != 1 || lives[0].EndReason != wire.EndHostEnded {
		t.Fatalf("live records %+v (%v): the publisher's DELETE ends the live", lives, err)
	}
}

// runInNetNS runs this test again in a new network namespace and reports its
// outcome. What it needs missing fails the test: CI installs it.
func runInNetNS(t *testing.T) {
	for _, tool := range []string{"unshare", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the GStreamer test needs %s (util-linux, iproute2), or TALKRELAY_SKIP_GSTREAMER=1: %v", tool, err)
		}
	}
	if out, err := exec.Command("/usr/bin/python3", "-c", gstCheck).CombinedOutput(); err != nil {
		t.Fatalf("the GStreamer test needs Debian's GStreamer for Python (apt-get install %s; .ci/run installs them), "+
			"or TALKRELAY_SKIP_GSTREAMER=1 to skip it: %v\n%s", gstPackages, err, out)
	}
	args := []string{"-rn", os.Args[0], "-test.run=^" + t.Name() + "$", "-test.count=1", "-test.v", "-test.timeout=3m"}
	cmd := exec.Command("unshare", args...)
	cmd.Env = append(os.Environ(), inNetNSEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("in its network namespace the test failed (%v):\n%s", err, out)
	}
	t.Logf("ran in a network namespace:\n%s", lastLines(string(out), 3))
}

// setUpVeth gives the namespace a veth pair with the SFU's and the peer's
// addresses (libnice skips loopback).
func setUpVeth(t *testing.T) {
	t.Helper()
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", "v0", "type", "veth", "peer", "name", "v1"},
		{"addr", "add", nsSFU + "/24", "dev", "v0"},
		{"addr", "add", nsPeer + "/24", "dev", "v1"},
		{"link", "set", "v0", "up"},
		{"link", "set", "v1", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// lines collects a process's output safely from its copying goroutines.
type lines struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func lastLines(s string, n int) string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return strings.Join(out, "\n")
}
