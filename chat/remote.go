package chat

import (
	"errors"
	"time"
)

// In a cluster a room's members are spread over nodes, each with its own Hub:
// a host action taken on one node is applied on the others through
// OnModerate and ApplyModeration. The store already holds what lasts (a
// deleted message is gone from it, a ban is kept there), so applying only
// tells this node's members and updates the room's moderation state here.

// Moderation is a host's chat action, as other nodes apply it.
type Moderation struct {
	// Type is TypeDelete, TypeClear, TypeSlowMode, TypeTimeout, TypeKick or TypeBan.
	Type     string    `json:"type"`
	Seq      uint64    `json:"seq,omitempty"`      // delete
	Identity string    `json:"identity,omitempty"` // timeout, kick, ban
	Until    time.Time `json:"until,omitzero"`     // timeout; ban (zero: forever)
	Seconds  int64     `json:"seconds,omitempty"`  // slow_mode (0: off)
}

// ErrBadModeration is returned by ApplyModeration for an action it cannot
// apply (an unknown type, a missing field).
var ErrBadModeration = errors.New("chat: malformed moderation")

// OnModerate sets fn, told of every host action applied on this hub, so a
// cluster can apply it on the other nodes. fn runs in the host's Handle call
// and must not block.
func (h *Hub) OnModerate(fn func(room string, a Moderation)) { h.onModerate.Store(&fn) }

func (h *Hub) moderated(room string, a Moderation) {
	if fn := h.onModerate.Load(); fn != nil && *fn != nil {
		(*fn)(room, a)
	}
}

// ApplyModeration applies a host action taken on another node to this hub's
// members of roomName, as if the host were here, without storing anything
// and without telling OnModerate. Kicks and bans also reach the room layer
// (OnKick), so participants whose chat is not open yet are disconnected too.
func (h *Hub) ApplyModeration(roomName string, a Moderation) error {
	if err := a.check(); err != nil {
		return err
	}
	h.mu.Lock()
	r := h.rooms[roomName]
	h.mu.Unlock()
	held := r != nil && r.hold()
	if held {
		defer h.release(r)
		switch a.Type {
		case TypeDelete:
			r.deleted(a.Seq)
		case TypeClear:
			r.clearLocal()
		case TypeSlowMode:
			d := time.Duration(a.Seconds) * time.Second
			r.mod.setSlowMode(d)
			r.notify(slowModeFrame(d))
		case TypeTimeout:
			until := a.Until.UTC()
			r.mod.timeout(a.Identity, until)
			r.notify(encode(noticeFrame{Type: TypeTimedOut, Identity: a.Identity, Until: &until}))
		case TypeBan:
			r.mod.ban(a.Identity, a.Until)
		}
		if a.Type == TypeKick || a.Type == TypeBan {
			for _, t := range r.withIdentity(a.Identity) {
				t.Leave()
			}
		}
	}
	if a.Type == TypeKick || a.Type == TypeBan {
		h.kicked(roomName, a.Identity)
	}
	return nil
}

func (a Moderation) check() error {
	switch a.Type {
	case TypeDelete:
		if a.Seq == 0 {
			return ErrBadModeration
		}
	case TypeClear:
	case TypeSlowMode:
		if a.Seconds < 0 || a.Seconds > int64(maxTimeout/time.Second) {
			return ErrBadModeration
		}
	case TypeTimeout, TypeKick, TypeBan:
		if a.Identity == "" {
			return ErrBadModeration
		}
	default:
		return ErrBadModeration
	}
	return nil
}
