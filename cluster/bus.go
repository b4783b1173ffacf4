package cluster

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/talkrelay/talkrelay/room"
)

// viewersSubject carries each node's viewer counts per room, about once a
// second and at every change: {node, rooms: {room: viewers}}.
const viewersSubject = "talkrelay.cluster.viewers"

// countsTTL is how long a node's counts stand without a refresh.
const countsTTL = 3 * time.Second

type countsMsg struct {
	Node  string         `json:"node"`
	Rooms map[string]int `json:"rooms"`
}

type nodeCounts struct {
	rooms map[string]int
	at    time.Time
}

func (n *Node) onCounts(m *nats.Msg) {
	var c countsMsg
	if json.Unmarshal(m.Data, &c) != nil || c.Node == n.cfg.NodeID {
		return
	}
	n.mu.Lock()
	n.counts[c.Node] = nodeCounts{rooms: c.Rooms, at: time.Now()}
	n.mu.Unlock()
	n.poke()
}

// publishCounts sends this node's counts when they changed, or a second
// after the last send.
func (n *Node) publishCounts(rooms map[string]room.ClusterRoom) {
	cur := map[string]int{}
	for name, cr := range rooms {
		if cr.Viewers > 0 {
			cur[name] = cr.Viewers
		}
	}
	n.mu.Lock()
	changed := len(cur) != len(n.lastSent)
	for k, v := range cur {
		if n.lastSent[k] != v {
			changed = true
		}
	}
	if !changed && time.Since(n.sentAt) < time.Second {
		n.mu.Unlock()
		return
	}
	n.lastSent, n.sentAt = cur, time.Now()
	n.mu.Unlock()
	b, _ := json.Marshal(countsMsg{Node: n.cfg.NodeID, Rooms: cur})
	_ = n.nc.Publish(viewersSubject, b)
}

// applyCounts tells each room here its viewers on other nodes.
func (n *Node) applyCounts(rooms map[string]room.ClusterRoom) {
	n.mu.Lock()
	others := map[string]int{}
	for id, c := range n.counts {
		// A node that died stops counting at the latest when its registry
		// entry expires, whatever its last counts said.
		if time.Since(c.at) > countsTTL || n.reg.dead(id) {
			delete(n.counts, id)
			continue
		}
		for name, v := range c.rooms {
			others[name] += v
		}
	}
	n.mu.Unlock()
	for name := range rooms {
		n.rooms.SetRemoteViewers(name, others[name])
	}
}

// onChat delivers a chat message another node stored to this node's members
// of its room, in the store's order.
func (n *Node) onChat(roomName string, seq uint64) {
	ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
	defer cancel()
	if err := n.cfg.Chat.Sync(ctx, roomName, seq); err != nil {
		n.log.Warn("chat sync", "room", roomName, "err", err)
	}
}

// chatCatchUpEvery is how often the node compares its rooms' chat with the
// store's.
const chatCatchUpEvery = 2 * time.Second

// catchUpChat delivers chat messages that no notification brought: when a
// NATS server dies the stream's watch can miss the last messages stored
// around the election, and no later message would bring them along. Every
// chatCatchUpEvery it reads each room's newest sequence from the store and
// syncs a room that is behind; a newest sequence that cannot be read back
// (a deleted message) is tried twice, then left until it changes. It runs
// until the node closes.
func (n *Node) catchUpChat() {
	if n.cfg.Chat == nil || n.cfg.LastChatSeq == nil {
		return
	}
	t := time.NewTicker(chatCatchUpEvery)
	defer t.Stop()
	tried := map[string]uint64{} // the newest sequence last tried, per room
	attempts := map[string]int{} // tries of it
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		heads := n.cfg.Chat.Heads()
		for name := range tried {
			if _, ok := heads[name]; !ok {
				delete(tried, name)
				delete(attempts, name)
			}
		}
		for name, head := range heads {
			ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
			last, err := n.cfg.LastChatSeq(ctx, name)
			if err == nil && last > head {
				if tried[name] != last {
					tried[name], attempts[name] = last, 0
				}
				if attempts[name] < 2 {
					attempts[name]++
					if err := n.cfg.Chat.Sync(ctx, name, last); err != nil {
						n.log.Debug("chat catch-up", "room", name, "err", err)
					}
				}
			}
			cancel()
		}
	}
}
