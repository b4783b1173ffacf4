package cluster

import (
	"context"
	"time"

	"github.com/talkrelay/talkrelay/room"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// When the node a live is published on (its origin) dies, the edges that
// pull it keep the live and its feeds, tell their viewers it is interrupted,
// and wait OriginGrace for its host to publish again on any node: that node
// continues the same live (ContinueLive, or the relayed live its room shows)
// and takes the room over in the directory, the edges pull from it and their
// viewers carry on on the same tracks. If the host does not come back, the
// edges end the live with EndOriginLost and one of them records it.

// relayLostAfter is how long the relay of a live shown here may stay down,
// its origin still alive, before the viewers are told it is interrupted.
const relayLostAfter = 2 * time.Second

// orphan is a live shown here that nothing relays any more (its origin
// died, or a host that came back here left again without publishing): since
// when, and its origin's directory entry as it was then.
type orphan struct {
	since  time.Time
	origin Origin
}

// orphanLocked stops p, keeping its live shown, interrupted, until the host
// comes back or OriginGrace passes (tendFailures).
func (n *Node) orphanLocked(name string, p *pull, o Origin) {
	n.detachLocked(name, p, wire.InterruptOriginLost)
	n.orphans[name] = &orphan{since: time.Now(), origin: o}
	n.log.Info("origin lost; the live waits for its host", "room", name, "origin", o.Node, "live", o.Live)
}

// tendFailures tells the viewers of lives whose relay is down, and looks
// after the relayed lives nothing pulls: gone once pulled again (a new
// origin) or published here, ended silently without viewers, ended for
// everyone when their grace passed.
func (n *Node) tendFailures(rooms map[string]room.ClusterRoom) {
	type ending struct {
		name, live string
		o          *orphan // nil: silently
	}
	var down []*pull
	var interrupt []string
	var end []ending
	now := time.Now()
	n.mu.Lock()
	for _, p := range n.pulls {
		if p.downFor() > relayLostAfter {
			down = append(down, p)
		}
	}
	for name := range n.orphans {
		if _, ok := rooms[name]; !ok {
			delete(n.orphans, name)
		}
	}
	for name, cr := range rooms {
		if !cr.Remote || cr.Host || cr.Origin || cr.Live == nil || n.pulls[name] != nil {
			delete(n.orphans, name) // relayed, published here, or no live
			continue
		}
		o := n.orphans[name]
		switch {
		case cr.Viewers == 0:
			delete(n.orphans, name)
			end = append(end, ending{name: name, live: cr.Live.ID})
		case o == nil:
			// A host came back here and left without publishing: wait again.
			o, _ := n.dir.origin(name)
			n.orphans[name] = &orphan{since: now, origin: o}
			interrupt = append(interrupt, name)
		case now.Sub(o.since) > n.cfg.OriginGrace:
			delete(n.orphans, name)
			end = append(end, ending{name: name, live: cr.Live.ID, o: o})
		}
	}
	n.mu.Unlock()
	for _, p := range down {
		p.interrupt(wire.InterruptOriginLost)
	}
	for _, name := range interrupt {
		if rl := n.rooms.Remote(name); rl != nil {
			rl.SetInterrupted(wire.InterruptOriginLost)
		}
	}
	for _, e := range end {
		n.endOrphan(e.name, e.live, e.o)
	}
}

// endOrphan ends a relayed live nothing relays: silently without o (no
// viewer is left), else for its viewers, who waited o's grace in vain; the
// one node that retires the directory entry records it.
func (n *Node) endOrphan(name, id string, o *orphan) {
	rl := n.rooms.Remote(name)
	if rl == nil {
		return
	}
	if o == nil {
		rl.End(nil)
		return
	}
	rec := room.LiveRecord{
		Room: name, ID: id, Host: o.origin.Host, HostName: o.origin.HostName,
		StartedAt: time.UnixMilli(o.origin.Started), EndedAt: o.since, EndReason: wire.EndOriginLost,
	}
	known := o.origin.Live == id && o.origin.Started != 0
	if !known {
		rec.StartedAt = o.since // the directory knew another live: say what is known
	}
	rec.DurationMS = rec.EndedAt.Sub(rec.StartedAt).Milliseconds()
	rl.End(&wire.Live{
		ID: rec.ID, State: wire.LiveEnded, Host: rec.Host, HostName: rec.HostName,
		StartedAt: rec.StartedAt.UnixMilli(), EndedAt: rec.EndedAt.UnixMilli(),
		DurationMS: rec.DurationMS, EndReason: rec.EndReason,
	})
	n.log.Info("host did not come back; live ended", "room", name, "live", id)
	if !known || o.origin.Node == "" {
		return
	}
	ctx, cancel := context.WithTimeout(n.ctx, 2*time.Second)
	defer cancel()
	won, err := n.dir.retire(ctx, name, o.origin.Node, id)
	if err != nil {
		n.log.Warn("retire room", "room", name, "err", err)
		return
	}
	if won {
		if err := n.rooms.Lives().SaveLive(ctx, rec); err != nil {
			n.log.Error("save live record", "room", name, "live", id, "err", err)
		}
	}
}

// ContinueLive returns the live host was publishing in room on another node,
// so a host who reconnects here continues it; nil otherwise. That node may
// still look alive: a host whose SDK fails over comes back sooner than its
// dead node's entry expires, and the directory then hands the room over. A
// dead node's entry counts only if it died within the last OriginGrace (as
// far as this node saw it): an older one is a live nobody ended. It reads
// only the directory and registry views: rooms call it holding their lock.
func (n *Node) ContinueLive(roomName, host string) *wire.Live {
	o, ok := n.dir.origin(roomName)
	if !ok || o.Host != host || o.Node == n.cfg.NodeID || o.Live == "" {
		return nil
	}
	if !n.isAlive(o.Node) {
		last, known := n.reg.lastSeen(o.Node)
		if !known || time.Since(last) > n.cfg.NodeTTL+n.cfg.OriginGrace {
			return nil
		}
	}
	return &wire.Live{ID: o.Live, State: wire.LiveOn, Host: o.Host, HostName: o.HostName, StartedAt: o.Started}
}

// lastSeen returns when node last heartbeated, as far as this view knows.
func (g *registry) lastSeen(id string) (time.Time, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	n, ok := g.nodes[id]
	return n.Updated, ok
}

// dead reports a node this view knew whose entry has expired.
func (g *registry) dead(id string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	n, ok := g.nodes[id]
	return ok && g.staleLocked(n)
}
