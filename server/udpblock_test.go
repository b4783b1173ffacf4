package server_test

import (
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/server"
)

// The viewer's address in the test network namespace; all its UDP is dropped.
const blockedViewerIP = "198.18.0.2"

// netnsChild marks the re-executed test binary that runs inside the network
// namespace the parent made.
const netnsChild = "TALKRELAY_TEST_NETNS_CHILD"

// A viewer whose UDP is dropped by a kernel filter still receives the live,
// over ICE-TCP. The test runs itself again in a network namespace of its own
// (unshare -rn, root here): there a traffic-control filter on the loopback
// device drops every UDP datagram from or to the viewer's address, while the
// host publishes over UDP as usual. The viewer tries UDP and TCP, as browsers
// do; only TCP gets through. Nothing leaves the namespace.
func TestViewerWithUDPDroppedUsesICETCP(t *testing.T) {
	if os.Getenv(netnsChild) == "" {
		runInNetns(t, "TestViewerWithUDPDroppedUsesICETCP")
		return
	}
	dropUDPOf(t, blockedViewerIP)
	e := newEnv(t, func(c *server.Config) { c.ICETCPPort = server.AnyPort })
	e.startHost("blocked", "host", hostOptions{})
	viewerIP := net.ParseIP(blockedViewerIP)
	api, err := client.NewAPI(client.APIOptions{
		IncludeLoopback: true, // its address sits on the loopback device
		IPFilter:        func(ip net.IP) bool { return ip.Equal(viewerIP) },
		// UDP first, TCP too, as browsers do (pion's default is UDP only).
		NetworkTypes: []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeTCP4},
	})
	if err != nil {
		t.Fatal(err)
	}
	v, r := e.watch("blocked", "viewer", func(c *client.Config) { c.API = api })
	pair := selectedPair(t, v)
	if pair.Local.Protocol != webrtc.ICEProtocolTCP || pair.Local.Address != blockedViewerIP {
		t.Fatalf("selected pair %s: want ICE-TCP from %s", pair, blockedViewerIP)
	}
	dropped := droppedUDP(t)
	if dropped == 0 {
		t.Fatal("the filter dropped nothing: the viewer never tried UDP")
	}
	video, audio := r.snapshot()
	checkDelivery(t, "viewer video", video)
	checkDelivery(t, "viewer audio", audio)
	t.Logf("kernel filter dropped %d UDP datagrams of the viewer; media over %s: %d video, %d audio packets", dropped, pair, len(video), len(audio))
}

// runInNetns runs test again in a new user and network namespace and reports
// its outcome as this test's; it skips where namespaces cannot be made.
func runInNetns(t *testing.T, test string) {
	t.Helper()
	for _, tool := range []string{"unshare", "ip", "tc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: %v", tool, err)
		}
	}
	if out, err := exec.Command("unshare", "-rn", "true").CombinedOutput(); err != nil {
		t.Skipf("cannot make a network namespace here: %v: %s", err, out)
	}
	cmd := exec.Command("unshare", "-rn", os.Args[0], "-test.run=^"+test+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), netnsChild+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("in the network namespace:\n%s", out)
	switch {
	case err != nil:
		t.Fatalf("%s in its network namespace: %v", test, err)
	case strings.Contains(string(out), "--- SKIP"):
		t.Skip("skipped in the network namespace (see its output)")
	case !strings.Contains(string(out), "--- PASS: "+test):
		t.Fatalf("%s did not pass in its network namespace", test)
	}
}

// dropUDPOf sets the namespace's loopback up with ip on it, and a filter
// that drops UDP from or to ip: an HTB class whose queue holds nothing
// (pfifo limit 0), to which a u32 filter sends those datagrams. (tc's drop
// action and netem are not available in this kernel; the classifier and
// these queues are.)
func dropUDPOf(t *testing.T, ip string) {
	t.Helper()
	for _, args := range [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "addr", "add", ip + "/32", "dev", "lo"},
		{"tc", "qdisc", "add", "dev", "lo", "root", "handle", "1:", "htb", "default", "10"},
		{"tc", "class", "add", "dev", "lo", "parent", "1:", "classid", "1:10", "htb", "rate", "10gbit"},
		{"tc", "class", "add", "dev", "lo", "parent", "1:", "classid", "1:30", "htb", "rate", "10gbit"},
		{"tc", "qdisc", "add", "dev", "lo", "parent", "1:30", "handle", "30:", "pfifo", "limit", "0"},
		{"tc", "filter", "add", "dev", "lo", "parent", "1:", "protocol", "ip", "prio", "1", "u32",
			"match", "ip", "protocol", "17", "0xff", "match", "ip", "src", ip + "/32", "flowid", "1:30"},
		{"tc", "filter", "add", "dev", "lo", "parent", "1:", "protocol", "ip", "prio", "2", "u32",
			"match", "ip", "protocol", "17", "0xff", "match", "ip", "dst", ip + "/32", "flowid", "1:30"},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Skipf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	// The filter works: a datagram from ip to loopback is lost, a TCP
	// connection between the two is not.
	rc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	sc, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip)}, rc.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if _, err := sc.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if droppedUDP(t) == 0 {
		t.Fatal("the filter let a UDP datagram through")
	}
}

var droppedRE = regexp.MustCompile(`qdisc pfifo 30:[^\n]*\n\s*Sent \d+ bytes \d+ pkt \(dropped (\d+)`)

// droppedUDP reads how many datagrams the filter dropped.
func droppedUDP(t *testing.T) int {
	t.Helper()
	out, err := exec.Command("tc", "-s", "qdisc", "show", "dev", "lo").CombinedOutput()
	if err != nil {
		t.Fatalf("tc -s qdisc: %v: %s", err, out)
	}
	m := droppedRE.FindSubmatch(out)
	if m == nil {
		t.Fatalf("no drop count in:\n%s", out)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}
