package server_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/server"
	"github.com/talkrelay/talkrelay/server/servertest"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// Three SFU nodes on a three-server NATS cluster, every stream and bucket
// kept by all three servers (NATSReplicas 3). The host publishes on A;
// viewers on B and C get the media (continuous sequence numbers) and everyone
// the chat in one order and the summed viewer count. Then one NATS server is
// shut down, and nothing is lost: chat sent before and after arrives on every
// node in one order and the stored history holds all of it, and the media
// never stops.
//
// Which server dies: not the JetStream meta leader (creating consumers, which
// the nodes' watches recreate after the loss, then works at once), but the
// leader of the chat stream (moved there first), which must hand the stream
// to another server while chat is sent, and the server that node C's NATS
// connections are on (C is given only its URL), which must move to another
// server it learns from the cluster. Server.Shutdown hands its raft
// leaderships over before closing; a crash would wait out an election
// timeout (4–9 s in nats-server) as well, which the chat store's retries
// (store/failover.go) cover only within a request's 5 s.
func TestClusterThreeNATSServersLoseOne(t *testing.T) {
	nc := startNATSCluster(t, 3)
	victim := (nc.metaLeader() + 1) % 3
	loseOneNATSServer(t, natsLoss{
		urls: nc.urls(), victimURL: nc.servers[victim].ClientURL(),
		lead: func(stream string) { nc.moveStreamLeader(stream, victim) },
		holdsC: func() bool {
			names := nc.connections(victim)
			return slices.Contains(names, "talkrelay-cluster-c") && slices.Contains(names, "talkrelay-store")
		},
		lose: func() {
			nc.servers[victim].Shutdown()
			nc.servers[victim].WaitForShutdown()
		},
		cMoved: func() bool {
			for i := range nc.servers {
				if i != victim && slices.Contains(nc.connections(i), "talkrelay-cluster-c") {
					return true
				}
			}
			return false
		},
	})
}

// natsLoss is how a test loses one NATS server of three.
type natsLoss struct {
	urls      string              // every server's client URL, comma-separated
	victimURL string              // the server to lose: node C's only URL
	lead      func(stream string) // makes the victim lead stream
	holdsC    func() bool         // the victim holds C's connections (nil: not checked)
	lose      func()              // the loss itself
	cMoved    func() bool         // C's cluster connection is on another server (nil: not checked)
}

// loseOneNATSServer runs the three SFU nodes through l's loss (see
// TestClusterThreeNATSServersLoseOne).
func loseOneNATSServer(t *testing.T, l natsLoss) {
	tweak := func(c *server.Config) {
		c.NATSReplicas = 3
		c.Cluster.Heartbeat = 500 * time.Millisecond // six heartbeating nodes' connections on two cores
	}
	a := clusterNode(t, l.urls, "a", tweak)
	b := clusterNode(t, l.urls, "b", tweak)
	c := clusterNode(t, l.victimURL, "c", tweak)
	servertest.WaitFor(t, 10*time.Second, "three nodes registered", func() bool {
		return len(a.node.Cluster().Nodes()) == 3 && len(b.node.Cluster().Nodes()) == 3 && len(c.node.Cluster().Nodes()) == 3
	})
	checkReplicas(t, l.urls, 3)

	a.startHost("big", "host", hostOptions{})
	servertest.WaitFor(t, 10*time.Second, "A claims the room, as C sees", func() bool {
		o, ok := c.node.Cluster().Origin("big")
		return ok && o.Node == "a"
	})
	var recB, recC recorder
	va := a.join("big", "va", auth.RoleViewer, nil)
	vb := b.join("big", "vb", auth.RoleViewer, recB.onTrack)
	vc := c.join("big", "vc", auth.RoleViewer, recC.onTrack)
	waitFor(t, 20*time.Second, "media relayed to B and C", func() bool {
		v1, a1 := recB.counts()
		v2, a2 := recC.counts()
		return v1 > 60 && a1 > 20 && v2 > 60 && a2 > 20
	})
	for _, v := range []*envClient{{"viewer on A", va}, {"viewer on B", vb}, {"viewer on C", vc}} {
		waitViewerCount(t, v, 3)
	}

	chatters := []*chatter{newChatter(t, va), newChatter(t, vb), newChatter(t, vc)}
	for i := range 3 {
		for n, ch := range chatters {
			ch.send(t, map[string]any{"type": "send", "id": fmt.Sprintf("before-%c%d", 'a'+n, i), "text": fmt.Sprintf("before %c %d", 'a'+n, i)})
		}
	}
	waitSameChat(t, chatters, 9)

	// The victim leads the chat stream and holds C's connections.
	l.lead("TALKRELAY_CHAT")
	if l.holdsC != nil && !l.holdsC() {
		t.Fatal("C's NATS connections are not on the server to lose")
	}
	videoB, _ := recB.counts()
	videoC, _ := recC.counts()
	liveB, liveC := relayedLive(t, b, "big"), relayedLive(t, c, "big")
	l.lose()

	// Each message is sent until acknowledged: a send refused while the
	// stream changes leader (store_failed) is sent again with the same id, as
	// a client does, and the store keeps it once.
	retried := 0
	for i := range 3 {
		for n, ch := range chatters {
			retried += ch.sendAcked(t, fmt.Sprintf("after-%c%d", 'a'+n, i), fmt.Sprintf("after %c %d", 'a'+n, i))
		}
	}
	t.Logf("sends retried after store_failed during the failover: %d", retried)
	msgs := waitSameChat(t, chatters, 18)
	if l.cMoved != nil {
		servertest.WaitFor(t, 15*time.Second, "C's cluster connection on another server", l.cMoved)
	}

	// The stored history, read on each node, is the same 18 messages.
	for _, e := range []*env{a, b, c} {
		var page struct {
			Messages []chatMessage `json:"messages"`
		}
		getJSON(t, e.url+"/v1/rooms/big/chat?limit=100", e.token("big", "reader", auth.RoleViewer), http.StatusOK, &page)
		users := slices.DeleteFunc(page.Messages, func(m chatMessage) bool { return m.Kind != "user" })
		if !slices.Equal(users, msgs) {
			t.Fatalf("history on %s = %+v; want the 18 messages delivered %+v", e.url, users, msgs)
		}
	}

	// The media went on through the loss, without a gap, and the live too.
	waitFor(t, 20*time.Second, "media after the loss on B and C", func() bool {
		v1, _ := recB.counts()
		v2, _ := recC.counts()
		return v1 > videoB+60 && v2 > videoC+60
	})
	for name, rec := range map[string]*recorder{"B": &recB, "C": &recC} {
		video, audio := rec.snapshot()
		checkContinuous(t, "viewer on "+name+" (video)", video)
		checkContinuous(t, "viewer on "+name+" (audio)", audio)
	}
	if relayedLive(t, b, "big") != liveB || relayedLive(t, c, "big") != liveC {
		t.Fatal("the live relayed to B or C was ended or replaced during the loss")
	}
}

// relayedLive returns the id of the live relayed to room on e, failing if
// there is none.
func relayedLive(t *testing.T, e *env, room string) string {
	t.Helper()
	for _, cr := range e.node.Rooms().ClusterRooms() {
		if cr.Name == room && cr.Remote && cr.Live != nil {
			return cr.Live.ID
		}
	}
	t.Fatalf("no live relayed to %s on %s", room, e.url)
	return ""
}

// jetStreamClient connects to the NATS servers at urls as a plain client;
// the connection closes when the test ends.
func jetStreamClient(t *testing.T, urls string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	conn, err := nats.Connect(urls)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	js, err := jetstream.New(conn)
	if err != nil {
		t.Fatal(err)
	}
	return conn, js
}

// checkReplicas fails unless every JetStream stream (KV buckets are streams
// too) has want replicas, and the stores' and the cluster's are all there.
func checkReplicas(t *testing.T, urls string, want int) {
	t.Helper()
	_, js := jetStreamClient(t, urls)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	seen := map[string]int{}
	streams := js.ListStreams(ctx)
	for info := range streams.Info() {
		seen[info.Config.Name] = info.Config.Replicas
	}
	if err := streams.Err(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"TALKRELAY_CHAT", "TALKRELAY_REPORTS", "TALKRELAY_LIVES", "TALKRELAY_CALLS",
		"KV_talkrelay_bans", "KV_talkrelay_users", "KV_talkrelay_nodes", "KV_talkrelay_rooms",
	} {
		if _, ok := seen[name]; !ok {
			t.Errorf("stream %s missing; have %v", name, seen)
		}
	}
	for name, r := range seen {
		if r != want {
			t.Errorf("stream %s has %d replicas; want %d", name, r, want)
		}
	}
}

// waitViewerCount waits until c's viewer count is want.
func waitViewerCount(t *testing.T, c *envClient, want int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if c.c.Joined().ViewerCount == want {
			return
		}
		select {
		case m, ok := <-c.c.Events():
			if !ok {
				t.Fatalf("%s: connection ended: %v", c.name, c.c.Err())
			}
			if m.Type == wire.TypeViewerCount && m.Count != nil && *m.Count == want {
				return
			}
		case <-time.After(time.Until(deadline)):
		}
	}
	t.Fatalf("%s: viewer count never reached %d", c.name, want)
}

// waitSameChat waits until every chatter has n messages, and fails unless
// they all saw the same ones in the same order with contiguous sequences.
func waitSameChat(t *testing.T, chatters []*chatter, n int) []chatMessage {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var counts []int
		for _, ch := range chatters {
			counts = append(counts, len(ch.messages()))
		}
		if slices.Min(counts) >= n {
			break
		}
		if time.Now().After(deadline) {
			var seqs [][]uint64
			for _, ch := range chatters {
				var ss []uint64
				for _, m := range ch.messages() {
					ss = append(ss, m.Seq)
				}
				seqs = append(seqs, ss)
			}
			t.Fatalf("timed out waiting for %d chat messages on every node; the chatters have %v: %v", n, counts, seqs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ref := chatters[0].messages()
	for i, m := range ref {
		if i > 0 && m.Seq != ref[i-1].Seq+1 {
			t.Fatalf("sequence gap at %d: %d after %d", i, m.Seq, ref[i-1].Seq)
		}
	}
	for k, ch := range chatters[1:] {
		if got := ch.messages(); !slices.Equal(got, ref) {
			t.Fatalf("chatter %d saw %+v; chatter 0 saw %+v", k+1, got, ref)
		}
	}
	if len(ref) != n {
		t.Fatalf("%d messages; want %d: %+v", len(ref), n, ref)
	}
	return ref
}

// sendAcked sends a chat message until the server acknowledges it: a send
// refused with store_failed is sent again with the same id. It returns how
// many times it sent again.
func (ch *chatter) sendAcked(t *testing.T, id, text string) (retries int) {
	t.Helper()
	for {
		errorsBefore := ch.count("error", id)
		ch.send(t, map[string]any{"type": "send", "id": id, "text": text})
		var failed bool
		waitFor(t, 20*time.Second, "the answer to chat message "+id, func() bool {
			failed = ch.count("error", id) > errorsBefore
			return failed || ch.count("ack", id) > 0
		})
		if !failed {
			return retries
		}
		f, _ := ch.find("error", id)
		if f.Error == nil || f.Error.Code != "store_failed" {
			t.Fatalf("chat message %s refused: %+v", id, f)
		}
		retries++
	}
}

// count is how many frames of type typ with id arrived.
func (ch *chatter) count(typ, id string) int {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	n := 0
	for _, f := range ch.frames {
		if f.Type == typ && f.ID == id {
			n++
		}
	}
	return n
}
