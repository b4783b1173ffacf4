package cluster

import (
	"hash/fnv"
	"slices"
	"strings"

	"github.com/talkrelay/talkrelay/signal/wire"
)

// maxAlternates bounds the nodes a client is told it may fail over to.
const maxAlternates = 8

// Alternates returns base URLs of other live nodes a client of this node may
// join if this node becomes unreachable (joined.nodes). Each node names its
// own subset of the cluster (rendezvous hashing on the two node ids), so the
// clients of a node that dies spread over several others rather than all
// landing on one; a client picks among them at random.
func (n *Node) Alternates() []string {
	if p := n.alternates.Load(); p != nil {
		return *p
	}
	return nil
}

// refreshAlternates recomputes the alternates and, when the set changed,
// tells every client here (a nodes message).
func (n *Node) refreshAlternates() {
	type scored struct {
		url   string
		score uint64
	}
	var all []scored
	for _, c := range n.reg.all() {
		if c.ID == n.cfg.NodeID || c.URL == "" {
			continue
		}
		h := fnv.New64a()
		_, _ = h.Write([]byte(n.cfg.NodeID + "\x00" + c.ID))
		all = append(all, scored{c.URL, h.Sum64()})
	}
	slices.SortFunc(all, func(a, b scored) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return strings.Compare(a.url, b.url)
	})
	urls := make([]string, 0, min(len(all), maxAlternates))
	for _, s := range all[:min(len(all), maxAlternates)] {
		urls = append(urls, s.url)
	}
	key := strings.Join(urls, " ")
	n.mu.Lock()
	changed := key != n.altKey
	n.altKey = key
	n.mu.Unlock()
	if !changed {
		return
	}
	n.alternates.Store(&urls)
	n.rooms.Announce(wire.Message{Type: wire.TypeNodes, Nodes: urls})
}
