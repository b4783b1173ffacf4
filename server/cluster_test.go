package server_test

import (
	"fmt"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/server"
	"github.com/talkrelay/talkrelay/server/servertest"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// startNATS runs a JetStream NATS server on a loopback TCP port, as the
// nodes of a cluster share one.
func startNATS(t *testing.T) string {
	t.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(5 * time.Second) {
		t.Fatal("NATS not ready")
	}
	t.Cleanup(ns.Shutdown)
	return ns.ClientURL()
}

// clusterNode starts a node of the cluster on natsURL.
func clusterNode(t *testing.T, natsURL, id string, tweak func(*server.Config)) *env {
	t.Helper()
	e := newEnv(t, func(c *server.Config) {
		c.NATSURL = natsURL
		c.Cluster = server.ClusterConfig{
			NodeID: id, RelayAddr: "127.0.0.1:0", Secret: "test cluster secret 0123456789",
			// Quick enough for the tests' waits; the registry's TTL (4
			// beats, 2 s) outlasts the stalls of a loaded 2-core machine
			// under the race detector, so no live node is taken for dead.
			Heartbeat: 500 * time.Millisecond,
		}
		if tweak != nil {
			tweak(c)
		}
	})
	if e.node.Cluster() == nil {
		t.Fatal("cluster not started")
	}
	return e
}

// Two nodes share one NATS: the host publishes on A, a viewer on B gets the
// media through the relay (continuous sequence numbers), both nodes' viewers
// are counted, chat crosses nodes in order, a viewer joining a full A is
// redirected to B, and the end of the live reaches B's viewer.
func TestClusterTwoNodes(t *testing.T) {
	url := startNATS(t)
	a := clusterNode(t, url, "a", func(c *server.Config) { c.MaxViewers = 1 })
	b := clusterNode(t, url, "b", nil)
	servertest.WaitFor(t, 5*time.Second, "both nodes registered", func() bool {
		return len(a.node.Cluster().Nodes()) == 2 && len(b.node.Cluster().Nodes()) == 2
	})

	h := a.startHost("big", "host", hostOptions{})
	servertest.WaitFor(t, 5*time.Second, "A claims the room", func() bool {
		o, ok := b.node.Cluster().Origin("big")
		return ok && o.Node == "a"
	})

	var rec recorder
	vb := b.join("big", "vb", auth.RoleViewer, rec.onTrack)
	servertest.NextEvent(t, vb, wire.TypeLiveStarted, 5*time.Second)
	waitFor(t, 10*time.Second, "video relayed to B", func() bool {
		v, au := rec.counts()
		return v > 60 && au > 20
	})
	video, audio := rec.snapshot()
	checkContinuous(t, "viewer on B (video)", video)
	checkContinuous(t, "viewer on B (audio)", audio)

	// A viewer on A: the count both see is the sum.
	va := a.join("big", "va", auth.RoleViewer, nil)
	waitCount := func(c *envClient, want int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if c.c.Joined().ViewerCount == want {
				return
			}
			m := servertest.NextEvent(t, c.c, wire.TypeViewerCount, time.Until(deadline))
			if m.Count != nil && *m.Count == want {
				return
			}
		}
		t.Fatalf("%s: viewer count never reached %d", c.name, want)
	}
	waitCount(&envClient{"viewer on B", vb}, 2)
	waitCount(&envClient{"viewer on A", va}, 2)

	// Chat sent on A reaches B in the same order, and the other way.
	ca, cb := newChatter(t, va), newChatter(t, vb)
	for i := range 5 {
		ca.send(t, map[string]any{"type": "send", "id": fmt.Sprintf("a%d", i), "text": fmt.Sprintf("from A %d", i)})
		cb.send(t, map[string]any{"type": "send", "id": fmt.Sprintf("b%d", i), "text": fmt.Sprintf("from B %d", i)})
	}
	waitFor(t, 5*time.Second, "ten messages on both nodes", func() bool {
		return len(ca.messages()) == 10 && len(cb.messages()) == 10
	})
	ma, mb := ca.messages(), cb.messages()
	for i := range ma {
		if ma[i] != mb[i] {
			t.Fatalf("message %d differs: A saw %+v, B saw %+v", i, ma[i], mb[i])
		}
		if i > 0 && ma[i].Seq != ma[i-1].Seq+1 {
			t.Fatalf("sequence gap at %d: %d after %d", i, ma[i].Seq, ma[i-1].Seq)
		}
	}

	// A holds its one viewer: the next is redirected to B.
	servertest.WaitFor(t, 3*time.Second, "A's load reported", func() bool {
		for _, n := range b.node.Cluster().Nodes() {
			if n.ID == "a" {
				return n.Viewers == 1
			}
		}
		return false
	})
	moved := a.join("big", "moved", auth.RoleViewer, nil)
	if moved.URL() != b.url {
		t.Fatalf("viewer joined %s; want a redirect to B at %s", moved.URL(), b.url)
	}

	// The host ends the live: B's viewer hears it with A's record.
	if err := h.c.EndLive(); err != nil {
		t.Fatal(err)
	}
	ended := servertest.NextEvent(t, vb, wire.TypeLiveEnded, 5*time.Second)
	if ended.Live == nil || ended.Live.EndReason != wire.EndHostEnded {
		t.Fatalf("live_ended on B = %+v; want the host's end", ended.Live)
	}
	// The record counts the audience on both nodes, not A's alone (1).
	if ended.Live.PeakViewers < 2 {
		t.Fatalf("peak viewers %d; want the sum over nodes (at least 2)", ended.Live.PeakViewers)
	}
	servertest.WaitFor(t, 5*time.Second, "room released", func() bool {
		_, ok := b.node.Cluster().Origin("big")
		return !ok
	})
}

type envClient struct {
	name string
	c    *client.Client
}
