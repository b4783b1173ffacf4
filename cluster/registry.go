package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// nodeBucket holds one entry per live node, kept by its heartbeats.
const nodeBucket = "talkrelay_nodes"

// NodeInfo is what a node tells the cluster about itself, every heartbeat.
type NodeInfo struct {
	ID    string `json:"id"`
	URL   string `json:"url"`   // where clients reach it (http://host:port)
	Relay string `json:"relay"` // host:port of its QUIC relay
	// Load.
	Viewers    int     `json:"viewers"`     // viewers of all rooms here
	MaxViewers int     `json:"max_viewers"` // beyond which joins are redirected (0: no limit)
	CPU        float64 `json:"cpu"`         // cores busy, over the last heartbeat
	EgressBps  uint64  `json:"egress_bps"`  // media bytes/s sent, over the last heartbeat
	// MaxRelayChildren is how many nodes may pull one room from this one (0:
	// no bound); each node's own bound decides whether it takes another.
	MaxRelayChildren int `json:"max_relay_children,omitempty"`
	// Serving maps each room whose live this node can relay to its depth:
	// 0 at the origin, 1 at an edge pulling from it, and so on. Children
	// counts the relay subscriptions it serves per room.
	Serving  map[string]int `json:"serving,omitempty"`
	Children map[string]int `json:"children,omitempty"`
	Updated  time.Time      `json:"updated"`
}

// registry publishes this node's entry and keeps a view of everyone's.
type registry struct {
	kv  jetstream.KeyValue
	ttl time.Duration

	mu    sync.Mutex
	nodes map[string]NodeInfo
	// Only a node whose own heartbeats have come back through its watch
	// for a whole TTL judges others dead: when its NATS server dies (or the
	// watch stalls), everyone's entries look stale to it, yet nobody died.
	self      string
	echo      time.Time // our own entry last seen through the watch
	echoSince time.Time // since when echoes have come without a gap
}

func openRegistry(ctx context.Context, js jetstream.JetStream, ttl time.Duration, replicas int) (*registry, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      nodeBucket,
		Description: "talkrelay cluster nodes: id -> addresses and load; expire without heartbeats",
		History:     1,
		TTL:         ttl, // a node that stops heartbeating disappears
		Storage:     jetstream.MemoryStorage,
		Replicas:    max(replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: node bucket: %w", err)
	}
	return &registry{kv: kv, ttl: ttl, nodes: map[string]NodeInfo{}}, nil
}

// heartbeat publishes n.
func (g *registry) heartbeat(ctx context.Context, n NodeInfo) error {
	n.Updated = time.Now()
	b, err := json.Marshal(n)
	if err != nil {
		return err
	}
	g.mu.Lock()
	g.self = n.ID
	g.mu.Unlock()
	if _, err := g.kv.Put(ctx, n.ID, b); err != nil {
		return fmt.Errorf("cluster: heartbeat: %w", err)
	}
	g.mu.Lock()
	g.nodes[n.ID] = n
	g.mu.Unlock()
	return nil
}

// leave removes this node's entry at once (a clean shutdown).
func (g *registry) leave(ctx context.Context, id string) {
	_ = g.kv.Delete(ctx, id)
	g.mu.Lock()
	delete(g.nodes, id)
	g.mu.Unlock()
}

// watch keeps the view current until ctx ends. Owned by the Node.
func (g *registry) watch(ctx context.Context, changed func()) error {
	return watchKV(ctx, g.kv, "nodes", func(key string, value []byte) {
		g.mu.Lock()
		defer g.mu.Unlock()
		var n NodeInfo
		if value == nil {
			delete(g.nodes, key)
		} else if json.Unmarshal(value, &n) == nil {
			g.nodes[key] = n
			if key == g.self {
				now := time.Now()
				if now.Sub(g.echo) > g.ttl/2 {
					g.echoSince = now // after a gap, others' entries need a TTL to catch up
				}
				g.echo = now
			}
		}
	}, changed)
}

// alive returns the node's entry if it heartbeated within the TTL. The
// bucket's TTL removes dead entries too, but a watcher is not told of
// expiries, so the view checks the time itself.
func (g *registry) alive(id string) (NodeInfo, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	n, ok := g.nodes[id]
	if !ok || g.staleLocked(n) {
		return NodeInfo{}, false
	}
	return n, true
}

// staleLocked reports an entry older than the TTL, while this node's own
// heartbeats have been coming back through the watch long enough to tell.
func (g *registry) staleLocked(n NodeInfo) bool {
	judging := time.Since(g.echo) <= g.ttl/2 && time.Since(g.echoSince) > g.ttl
	return time.Since(n.Updated) > g.ttl && judging
}

// all returns the live nodes.
func (g *registry) all() []NodeInfo {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]NodeInfo, 0, len(g.nodes))
	for _, n := range g.nodes {
		if !g.staleLocked(n) {
			out = append(out, n)
		}
	}
	return out
}

// canServe reports whether the node takes one more edge pulling room.
func (n NodeInfo) canServe(room string) bool {
	return n.MaxRelayChildren <= 0 || n.Children[room] < n.MaxRelayChildren
}
