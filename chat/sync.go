package chat

import (
	"context"
	"fmt"
)

// Sync delivers the messages of roomName up to seq that another node stored
// in the shared store. Nodes of a cluster append to one store, which orders
// each room's messages; a node learns of another's append only when told, and
// then reads the missing messages back in order, so every member on every node
// sees one order. A room with no members here is left alone: its members load
// history when they join.
func (h *Hub) Sync(ctx context.Context, roomName string, seq uint64) error {
	h.mu.Lock()
	r := h.rooms[roomName]
	h.mu.Unlock()
	if r == nil || !r.hold() {
		return nil
	}
	defer h.release(r)
	if seq <= r.head.Load() {
		return nil
	}
	if err := r.lockAppend(ctx); err != nil {
		return err
	}
	defer r.unlockAppend()
	if !r.loaded.Load() {
		return nil // the first use loads the history, this message with it
	}
	head := r.head.Load()
	if seq <= head {
		return nil // our own append, or read back already
	}
	after := max(head, seq-min(seq, r.ring.size())) // only what the ring can hold
	msgs, err := h.cfg.Store.ChatSince(ctx, roomName, after, int(seq-after))
	if err != nil {
		return fmt.Errorf("chat: room %s: read messages stored elsewhere: %w", roomName, err)
	}
	for _, m := range msgs {
		if m.Seq > r.head.Load() && m.Seq <= seq {
			r.commit(m)
		}
	}
	r.poke()
	return nil
}
