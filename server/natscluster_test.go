package server_test

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/talkrelay/talkrelay/server/servertest"
)

// natsCluster is real NATS servers routed into one JetStream cluster on
// loopback, each with its own store directory, in the test process.
type natsCluster struct {
	t       *testing.T
	servers []*natsserver.Server
}

// startNATSCluster starts size servers and waits until JetStream has a meta
// leader that knows them all.
func startNATSCluster(t *testing.T, size int) *natsCluster {
	t.Helper()
	routePorts := make([]int, size)
	var routes []string
	for i := range routePorts {
		routePorts[i] = freeLoopbackPort(t)
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", routePorts[i]))
	}
	c := &natsCluster{t: t}
	for i := range size {
		c.servers = append(c.servers, startRoutedNATS(t, fmt.Sprintf("n%d", i+1), routePorts[i], routes))
	}
	servertest.WaitFor(t, 30*time.Second, "a JetStream meta leader that knows every server", func() bool {
		l := c.metaLeader()
		return l >= 0 && len(c.servers[l].JetStreamClusterPeers()) == size
	})
	return c
}

// startRoutedNATS starts one JetStream server of the test cluster in the
// test process, routed to routes, and waits until it takes clients.
func startRoutedNATS(t *testing.T, name string, routePort int, routes []string) *natsserver.Server {
	t.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{
		ServerName: name, Host: "127.0.0.1", Port: -1,
		JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true,
		Cluster: natsserver.ClusterOpts{Name: "talkrelay-test", Host: "127.0.0.1", Port: routePort},
		Routes:  natsserver.RoutesFromStr(strings.Join(routes, ",")),
	})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatalf("NATS %s not ready", name)
	}
	return ns
}

// freeLoopbackPort returns a TCP port on 127.0.0.1 nobody listens on now.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// urls is every server's client URL, comma-separated.
func (c *natsCluster) urls() string {
	var out []string
	for _, ns := range c.servers {
		out = append(out, ns.ClientURL())
	}
	return strings.Join(out, ",")
}

// metaLeader is the index of the JetStream meta leader among the running
// servers, or -1.
func (c *natsCluster) metaLeader() int {
	for i, ns := range c.servers {
		if ns.Running() && ns.JetStreamIsLeader() {
			return i
		}
	}
	return -1
}

// connections lists the names of the client connections server i holds.
func (c *natsCluster) connections(i int) []string {
	c.t.Helper()
	cz, err := c.servers[i].Connz(&natsserver.ConnzOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	var names []string
	for _, ci := range cz.Conns {
		names = append(names, ci.Name)
	}
	return names
}

// moveStreamLeader makes server i the leader of stream (in the default
// account) through JetStream's stepdown request with a preferred server.
func (c *natsCluster) moveStreamLeader(stream string, i int) {
	c.t.Helper()
	isLeader := func() bool { return c.servers[i].JetStreamIsStreamLeader(natsserver.DEFAULT_GLOBAL_ACCOUNT, stream) }
	if isLeader() {
		return
	}
	nc, err := nats.Connect(c.servers[i].ClientURL())
	if err != nil {
		c.t.Fatal(err)
	}
	defer nc.Close()
	body, err := json.Marshal(natsserver.JSApiLeaderStepdownRequest{Placement: &natsserver.Placement{Preferred: c.servers[i].Name()}})
	if err != nil {
		c.t.Fatal(err)
	}
	reply, err := nc.Request(fmt.Sprintf(natsserver.JSApiStreamLeaderStepDownT, stream), body, 5*time.Second)
	if err != nil {
		c.t.Fatalf("stepdown of %s: %v", stream, err)
	}
	var resp natsserver.JSApiStreamLeaderStepDownResponse
	if err := json.Unmarshal(reply.Data, &resp); err != nil || resp.Error != nil {
		c.t.Fatalf("stepdown of %s: %s", stream, reply.Data)
	}
	servertest.WaitFor(c.t, 15*time.Second, stream+" led by "+c.servers[i].Name(), isLeader)
}
