package server_test

import (
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/cluster"
	"github.com/talkrelay/talkrelay/server"
	"github.com/talkrelay/talkrelay/server/servertest"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// A relay tree two levels deep: A and B each serve one edge per room
// (MaxRelayChildren 1), so with the host on A, B pulls from A and C, whose
// viewer comes later, from B. C's viewer gets the media with continuous
// sequence numbers and hears the end of the live through B.
func TestClusterRelayTwoLevels(t *testing.T) {
	url := startNATS(t)
	oneChild := func(c *server.Config) { c.Cluster.MaxRelayChildren = 1 }
	a := clusterNode(t, url, "a", oneChild)
	b := clusterNode(t, url, "b", oneChild)
	c := clusterNode(t, url, "c", nil)
	servertest.WaitFor(t, 10*time.Second, "three nodes registered", func() bool {
		return len(a.node.Cluster().Nodes()) == 3 && len(b.node.Cluster().Nodes()) == 3 && len(c.node.Cluster().Nodes()) == 3
	})

	h := a.startHost("tree", "host", hostOptions{})
	servertest.WaitFor(t, 10*time.Second, "A claims the room, as C sees", func() bool {
		o, ok := c.node.Cluster().Origin("tree")
		return ok && o.Node == "a"
	})

	var recB, recC recorder
	vb := b.join("tree", "vb", auth.RoleViewer, recB.onTrack)
	servertest.NextEvent(t, vb, wire.TypeLiveStarted, 10*time.Second)
	waitParent(t, b, "tree", "a", 1)
	// C picks its parent from the registry: it must see A full and B serving.
	servertest.WaitFor(t, 10*time.Second, "C sees A serving one edge and B relaying", func() bool {
		return nodeInfo(c, "a").Children["tree"] == 1 && nodeInfo(c, "b").Serving["tree"] == 1
	})

	vc := c.join("tree", "vc", auth.RoleViewer, recC.onTrack)
	servertest.NextEvent(t, vc, wire.TypeLiveStarted, 10*time.Second)
	waitParent(t, c, "tree", "b", 2)
	waitFor(t, 20*time.Second, "media through B to C", func() bool {
		v, au := recC.counts()
		return v > 60 && au > 20
	})
	for name, rec := range map[string]*recorder{"B": &recB, "C": &recC} {
		video, audio := rec.snapshot()
		checkContinuous(t, "viewer on "+name+" (video)", video)
		checkContinuous(t, "viewer on "+name+" (audio)", audio)
	}
	// The tree held its shape: A still serves one edge, B one.
	servertest.WaitFor(t, 5*time.Second, "A and B each serving one edge", func() bool {
		return nodeInfo(c, "a").Children["tree"] == 1 && nodeInfo(c, "b").Children["tree"] == 1
	})

	if err := h.c.EndLive(); err != nil {
		t.Fatal(err)
	}
	for _, v := range []*envClient{{"viewer on B", vb}, {"viewer on C", vc}} {
		ended := servertest.NextEvent(t, v.c, wire.TypeLiveEnded, 10*time.Second)
		if ended.Live == nil || ended.Live.EndReason != wire.EndHostEnded {
			t.Fatalf("%s: live_ended = %+v; want the host's end", v.name, ended.Live)
		}
	}
}

// waitParent waits until e pulls room from parent at depth.
func waitParent(t *testing.T, e *env, room, parent string, depth int) {
	t.Helper()
	servertest.WaitFor(t, 10*time.Second, "a pull of "+room+" from "+parent, func() bool {
		p, d, ok := e.node.Cluster().Parent(room)
		return ok && p == parent && d == depth
	})
}

// nodeInfo is node id's entry as e sees it (zero if e knows no such node).
func nodeInfo(e *env, id string) cluster.NodeInfo {
	for _, n := range e.node.Cluster().Nodes() {
		if n.ID == id {
			return n
		}
	}
	return cluster.NodeInfo{}
}
