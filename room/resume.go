package room

import (
	"strings"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// JoinOptions are what a join may carry besides the token.
type JoinOptions struct {
	// ID is the join request's id, echoed on joined or resumed.
	ID string
	// Resume is the resume token of an earlier joined or resumed: the client's
	// connection dropped and it takes its session back.
	Resume string
	// ChatAfter is the last chat Seq the client holds; a new chat channel then
	// delivers from the next one instead of the usual history (see
	// chat.Hub.JoinAfter), so a client coming back sees no gap and no duplicate.
	ChatAfter uint64
	// clientOffers: the participant is a WHIP or WHEP client (httpsession.go).
	clientOffers bool
}

// Enter admits the bearer of g like Join. With a resume token still valid for
// g's room, identity and role it instead attaches peer to that session, which
// is sent resumed followed by what the room sent while the client was away;
// nothing else happens in the room. resumed tells which. An unknown, expired
// or foreign token is no error: the client gets a new session (joined).
func (m *Manager) Enter(g auth.Grant, peer Peer, o JoinOptions) (p *Participant, resumed bool, err error) {
	if o.Resume != "" {
		if p := m.resume(g, peer, o.Resume, o.ID); p != nil {
			return p, true, nil
		}
	}
	p, err = m.join(g, peer, o)
	return p, false, err
}

func (m *Manager) resume(g auth.Grant, peer Peer, token, joinID string) *Participant {
	id, secret, ok := strings.Cut(token, ".")
	if !ok {
		return nil
	}
	m.mu.Lock()
	r := m.rooms[g.Room]
	if m.closed {
		r = nil // shutting down: the fresh join is refused with unavailable
	}
	m.mu.Unlock()
	if r == nil {
		return nil
	}
	return r.resume(g, id, secret, peer, joinID)
}

func (r *Room) resume(g auth.Grant, id, secret string, peer Peer, joinID string) *Participant {
	r.mu.Lock()
	p := r.participants[id]
	if r.closed || p == nil || p.sess == nil || p.grant.Identity != g.Identity || p.grant.Role != g.Role || r.kind != kindOf(g) || !p.sess.matches(secret) {
		r.mu.Unlock()
		return nil
	}
	old, queuedOffer, ok := p.sess.attach(peer, wire.Message{Type: wire.TypeResumed, ID: joinID, Joined: r.joinedLocked(p)})
	r.mu.Unlock()
	if !ok {
		return nil // its window passed as we looked
	}
	if old != nil {
		old.Close(&wire.Error{Code: wire.CodeReplaced, Message: "the session resumed on another connection", Fatal: true})
	}
	p.log.Info("resumed")
	r.retellLayers(p)
	if !queuedOffer {
		p.resendOffer()
	}
	p.restartICEIfDown()
	return p
}

// resendOffer sends the subscriber's offer again if it still waits for its
// answer: the old connection may have lost the offer, or the client's answer.
// (An offer queued while the client was away has just been delivered.)
func (p *Participant) resendOffer() {
	p.mu.Lock()
	sub := p.sub
	p.mu.Unlock()
	if sub == nil {
		return
	}
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if d := sub.pc.LocalDescription(); !sub.closed && sub.offering && d != nil {
		sub.p.peer.Send(wire.Message{Type: wire.TypeOffer, SDP: d.SDP})
	}
}

// joinedLocked describes the room to p, with a new resume token.
func (r *Room) joinedLocked(p *Participant) *wire.Joined {
	g := p.grant
	j := &wire.Joined{
		Room: r.name, Identity: g.Identity, Name: g.Name, Role: string(g.Role), ParticipantID: p.id,
		ViewerCount: r.totalViewersLocked(), Muted: r.hostMutedLocked(),
	}
	if r.live != nil {
		j.Live = r.live.wire()
	}
	if r.kind == kindGroupRoom {
		j.RoomType = auth.RoomTypeGroup
	}
	if servers := r.m.cfg.ICEServers; servers != nil {
		j.ICEServers = servers(g.Identity)
	}
	if nodes := r.m.cfg.Nodes; nodes != nil && r.kind == kindLiveRoom {
		j.Nodes = nodes()
	}
	if window := r.m.cfg.ResumeWindow; p.sess != nil && window > 0 {
		j.ResumeToken = p.id + "." + p.sess.newSecret()
		j.ResumeWithinMS = window.Milliseconds()
	}
	return j
}

// Dropped tells the participant that its signaling connection from ended.
// resumable means it ended without a goodbye (no leave, no close frame, no
// fatal error: the network lost it): the participant then stays, detached, for
// Config.ResumeWindow, and leaves as Disconnected does if the client has not
// resumed by then. unsent, if not nil, returns the messages from never wrote;
// they are delivered first on resume. A connection the session has moved away
// from changes nothing.
func (p *Participant) Dropped(from Peer, resumable bool, unsent func() []wire.Message) {
	if p.sess == nil {
		p.room.leave(p, false)
		return
	}
	window := p.room.m.cfg.ResumeWindow
	switch p.sess.drop(from, resumable, window, p.resumeExpired, unsent) {
	case dropDetached:
		p.log.Info("signaling dropped; the session waits for a resume", "window", window)
	case dropEnded:
		p.room.leave(p, false)
	}
}

// resumeExpired ends a detached session: its client did not come back in time,
// or the room closed it meanwhile (kick, a new join of the same identity).
func (p *Participant) resumeExpired() {
	p.log.Info("detached session ended")
	p.room.leave(p, false)
}
