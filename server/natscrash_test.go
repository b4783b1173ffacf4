package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/talkrelay/talkrelay/server/servertest"
)

// The loss of TestClusterThreeNATSServersLoseOne as a crash: the server
// leading the chat stream (and holding node C's connections) runs as its
// own process and is killed with SIGKILL, so nothing is handed over: the
// stream's other replicas elect a new leader after their timeout while chat
// is sent, and nothing is lost.
//
// It found that a node's chat watch (store.WatchChat) can miss the last
// messages stored around the election, with no error anywhere: before the
// cluster's chat catch-up (cluster/bus.go) one node's members lacked the
// last one or two messages in about 4 runs of 10.
func TestClusterNATSServerCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a NATS server binary")
	}
	nc := startNATSClusterWithProcess(t)
	loseOneNATSServer(t, natsLoss{
		urls: nc.urls, victimURL: nc.procURL,
		lead: func(stream string) { leadStream(t, nc.urls, stream, nc.procName) },
		lose: nc.kill,
	})
}

// mixedNATS is two NATS servers in the test process and a third as a
// process of its own, routed into one JetStream cluster.
type mixedNATS struct {
	urls     string // all three client URLs
	procURL  string
	procName string
	kill     func()
}

func startNATSClusterWithProcess(t *testing.T) *mixedNATS {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "natsnode")
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/natsnode").CombinedOutput(); err != nil {
		t.Fatalf("build natsnode: %v\n%s", err, out)
	}
	var routePorts [3]int
	var routes []string
	for i := range routePorts {
		routePorts[i] = freeLoopbackPort(t)
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", routePorts[i]))
	}
	var urls []string
	for i := range 2 {
		urls = append(urls, startRoutedNATS(t, fmt.Sprintf("n%d", i+1), routePorts[i], routes[:]).ClientURL())
	}
	port := freeLoopbackPort(t)
	cmd := exec.Command(bin, "--name", "n3", "--port", fmt.Sprint(port), "--cluster-port", fmt.Sprint(routePorts[2]),
		"--routes", strings.Join(routes, ","), "--store", t.TempDir())
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	// Reaper: owned by the test, ends when the process exits.
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	kill := func() {
		select {
		case <-done:
			return
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
	}
	t.Cleanup(kill)
	m := &mixedNATS{procURL: fmt.Sprintf("nats://127.0.0.1:%d", port), procName: "n3", kill: kill}
	m.urls = strings.Join(append(urls, m.procURL), ",")
	servertest.WaitFor(t, 30*time.Second, "a JetStream cluster of three", func() bool {
		conn, err := nats.Connect(m.urls)
		if err != nil {
			return false
		}
		defer conn.Close()
		reply, err := conn.Request("$JS.API.INFO", nil, time.Second)
		if err != nil {
			return false
		}
		var info struct {
			Error *struct{} `json:"error"`
		}
		return json.Unmarshal(reply.Data, &info) == nil && info.Error == nil
	})
	return m
}

// leadStream makes server name the leader of stream, through JetStream's
// stepdown request with a preferred server, as any client can.
func leadStream(t *testing.T, urls, stream, name string) {
	t.Helper()
	conn, js := jetStreamClient(t, urls)
	leader := func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s, err := js.Stream(ctx, stream)
		if err != nil {
			return ""
		}
		info, err := s.Info(ctx)
		if err != nil || info.Cluster == nil {
			return ""
		}
		return info.Cluster.Leader
	}
	if leader() == name {
		return
	}
	body, err := json.Marshal(natsserver.JSApiLeaderStepdownRequest{Placement: &natsserver.Placement{Preferred: name}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Request(fmt.Sprintf(natsserver.JSApiStreamLeaderStepDownT, stream), body, 5*time.Second); err != nil {
		t.Fatalf("stepdown of %s: %v", stream, err)
	}
	servertest.WaitFor(t, 15*time.Second, stream+" led by "+name, func() bool { return leader() == name })
}
