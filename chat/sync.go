package chat

import (
	"context"
	"fmt"
	"time"
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
	msgs, err := r.readBack(ctx, after, seq)
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

// Heads returns, for every room with members here whose history is loaded,
// the newest message they hold: a cluster node compares them with the
// store's to catch up on messages no notification brought.
func (h *Hub) Heads() map[string]uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]uint64, len(h.rooms))
	for name, r := range h.rooms {
		if r.loaded.Load() {
			out[name] = r.head.Load()
		}
	}
	return out
}

// Read-back retries: 8 tries over about 1.3 s in all.
const (
	readBackTries = 8
	readBackPause = 10 * time.Millisecond
)

// readBack reads the room's messages after after, up to upTo, from the store.
// A shared store may answer from a replica that does not hold the newest of
// them yet (JetStream serves direct reads from any replica, and followers
// trail the leader by a moment; a NATS failover can fail a read outright), so
// a read that stops short of upTo is tried again a few times. What it has
// then is returned.
func (r *room) readBack(ctx context.Context, after, upTo uint64) ([]Message, error) {
	pause := readBackPause
	for try := 1; ; try++ {
		msgs, err := r.hub.cfg.Store.ChatSince(ctx, r.name, after, int(upTo-after))
		if err == nil && len(msgs) > 0 && msgs[len(msgs)-1].Seq >= upTo {
			return msgs, nil
		}
		if try == readBackTries {
			return msgs, err
		}
		select {
		case <-ctx.Done():
			return msgs, err
		case <-time.After(pause):
		}
		pause *= 2
	}
}
