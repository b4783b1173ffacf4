package cluster

import (
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/talkrelay/talkrelay/chat"
)

// moderationSubject carries every host chat action (delete, clear, slow
// mode, timeout, kick, ban) to the other nodes, which apply it to their
// members of the room: {node, room, action}. Host media controls (mute, end)
// travel on the relay's control streams instead; hiding chat is per
// participant and stays on its node.
const moderationSubject = "talkrelay.cluster.moderation"

type moderationMsg struct {
	Node   string          `json:"node"`
	Room   string          `json:"room"`
	Action chat.Moderation `json:"action"`
}

// watchModeration applies the other nodes' host actions here and sends this
// node's to them. The subscription ends when the NATS connection closes.
func (n *Node) watchModeration() error {
	if n.cfg.Chat == nil {
		return nil
	}
	if _, err := n.nc.Subscribe(moderationSubject, n.onModeration); err != nil {
		return fmt.Errorf("cluster: subscribe moderation: %w", err)
	}
	n.cfg.Chat.OnModerate(n.publishModeration)
	return nil
}

func (n *Node) publishModeration(roomName string, a chat.Moderation) {
	b, err := json.Marshal(moderationMsg{Node: n.cfg.NodeID, Room: roomName, Action: a})
	if err != nil {
		return
	}
	if err := n.nc.Publish(moderationSubject, b); err != nil {
		n.log.Warn("publish moderation", "room", roomName, "err", err)
	}
}

func (n *Node) onModeration(m *nats.Msg) {
	var msg moderationMsg
	if json.Unmarshal(m.Data, &msg) != nil || msg.Node == n.cfg.NodeID || msg.Room == "" {
		return
	}
	if err := n.cfg.Chat.ApplyModeration(msg.Room, msg.Action); err != nil {
		n.log.Warn("moderation from another node", "node", msg.Node, "room", msg.Room, "err", err)
	}
}
