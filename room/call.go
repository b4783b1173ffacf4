package room

import (
	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// CallRoomPrefix starts the name of every call's room. Tokens cannot name such
// a room: only the call service puts people in one.
const CallRoomPrefix = "call:"

// OpenCall opens the room of a 1:1 call named CallRoomPrefix+callID. Its
// participants both publish and receive each other; video may be published only
// when video is true (see SetVideo). The room lives until Close.
func (m *Manager) OpenCall(callID string, video bool) (*Room, error) {
	name := CallRoomPrefix + callID
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, &wire.Error{Code: wire.CodeUnavailable, Message: "server is shutting down"}
	}
	if m.rooms[name] != nil {
		return nil, wire.Errorf(wire.CodeInternal, "call room %s exists already", name)
	}
	if len(m.rooms) >= m.cfg.MaxRooms {
		return nil, &wire.Error{Code: wire.CodeServerFull, Message: "this server has no room for another call; try later"}
	}
	r := newRoom(m, name, kindCallRoom)
	r.video = video
	m.rooms[name] = r
	return r, nil
}

// Name is the room's name (its chat's too).
func (r *Room) Name() string { return r.name }

// JoinCall puts a caller into the call's room, reachable through peer. The same
// identity joining again (its device reconnected) replaces its old participant;
// its feeds continue. The caller is sent the room's subscriber offer, with the
// other side's media and the chat channel, but no joined: the call events have
// told it where it is.
func (r *Room) JoinCall(g auth.Grant, peer Peer) (*Participant, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, wire.Errorf(wire.CodeNoSuchCall, "the call has ended")
	}
	var replaced *Participant
	for _, q := range r.participants {
		if q.grant.Identity == g.Identity {
			replaced = q
		}
	}
	if replaced != nil {
		delete(r.participants, replaced.id)
	}
	p := &Participant{id: newID("PA_"), grant: g, room: r, peer: peer}
	p.log = r.m.log.With("room", r.name, "participant", p.id, "identity", g.Identity, "role", string(g.Role))
	r.participants[p.id] = p
	// Tell the newcomer which of the other side's tracks are off.
	for identity, s := range r.sources {
		if identity == g.Identity {
			continue
		}
		for k, muted := range s.muted {
			if muted {
				peer.Send(wire.Message{Type: wire.TypeTrackMuted, Kind: kindNames[k], Muted: wire.Bool(true), Identity: identity})
			}
		}
	}
	r.mu.Unlock()
	if replaced != nil {
		replaced.closeMedia()
	}
	p.syncFeeds()
	p.log.Info("joined call")
	return p, nil
}

// SetVideo allows or forbids publishing video in a call's room (voice ↔ video).
func (r *Room) SetVideo(allowed bool) {
	r.mu.Lock()
	r.video = allowed
	r.mu.Unlock()
}

func (r *Room) videoAllowed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.video
}

// Close ends a call's room: its participants' peer connections and feeds close.
// Their signaling connections stay open (they belong to the callers' devices).
func (r *Room) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	parts := r.othersLocked(nil)
	r.participants = map[string]*Participant{}
	sources := r.sources
	r.sources = map[string]*source{}
	if r.countTimer != nil {
		r.countTimer.Stop()
	}
	r.mu.Unlock()
	for _, q := range parts {
		q.closeMedia()
	}
	for _, s := range sources {
		s.closeFeeds()
	}
	r.m.removeRoom(r)
}
