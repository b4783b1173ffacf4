package room

import (
	"context"

	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// What WHIP and WHEP sessions need of a participant beyond the signaling
// operations: their client offers once over HTTP and gets one answer with
// every candidate in it, and nothing tells the server the client went away
// but the media connection's state.

// LocalAnswer waits, until ctx ends, for the connection t (a WHIP host's
// publisher, a WHEP viewer's subscriber) to gather its ICE candidates and
// returns its local description with them: the answer an HTTP client gets in
// one piece. Call it after Offer, JoinWHEP or Reoffer.
func (p *Participant) LocalAnswer(ctx context.Context, t wire.Target) (string, error) {
	pc := p.connection(t)
	if pc == nil {
		return "", wire.Errorf(wire.CodeNoSession, "no %s connection", t)
	}
	select {
	case <-webrtc.GatheringCompletePromise(pc):
	case <-ctx.Done():
		return "", ctx.Err()
	}
	d := pc.LocalDescription()
	if d == nil || d.Type != webrtc.SDPTypeAnswer {
		return "", wire.Errorf(wire.CodeNoSession, "the %s connection has no answer", t)
	}
	return d.SDP, nil
}

// Reoffer applies a new offer from a client that offers on connection t (an
// ICE restart of a WHIP or WHEP session) and answers it; read the answer with
// LocalAnswer.
func (p *Participant) Reoffer(t wire.Target, offer string) error {
	if t == wire.TargetPublisher {
		return p.Offer("", offer)
	}
	p.mu.Lock()
	sub := p.sub
	p.mu.Unlock()
	if sub == nil || sub.whep == nil {
		return wire.Errorf(wire.CodeNoSession, "the subscriber connection is offered by the server")
	}
	return sub.reofferWHEP(offer)
}

// OnConnectionState calls fn with every later state of connection t (a WHIP
// host's publisher, a WHEP viewer's subscriber), and once now with the
// current one. fn must not block.
func (p *Participant) OnConnectionState(t wire.Target, fn func(webrtc.PeerConnectionState)) error {
	p.mu.Lock()
	pub, sub := p.pub, p.sub
	p.mu.Unlock()
	var pc *webrtc.PeerConnection
	switch {
	case t == wire.TargetPublisher && pub != nil:
		pub.onState.Store(&fn)
		pc = pub.pc
	case t == wire.TargetSubscriber && sub != nil && sub.whep != nil:
		sub.mu.Lock()
		sub.whep.onState = fn
		sub.mu.Unlock()
		pc = sub.pc
	default:
		return wire.Errorf(wire.CodeNoSession, "no %s connection to watch", t)
	}
	fn(pc.ConnectionState())
	return nil
}

func (p *Participant) connection(t wire.Target) *webrtc.PeerConnection {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case t == wire.TargetPublisher && p.pub != nil:
		return p.pub.pc
	case t == wire.TargetSubscriber && p.sub != nil:
		return p.sub.pc
	}
	return nil
}

// JoinWHIP admits the bearer of g (a host) as a host publishing over WHIP,
// reachable through peer, and applies its offer; read the answer with
// LocalAnswer. The offer is checked before the join, which displaces a
// session of the same identity. Errors are *wire.Error: bad_sdp or
// no_usable_codec for an offer we cannot use, and Join's.
func (m *Manager) JoinWHIP(g auth.Grant, peer Peer, offer string) (*Participant, error) {
	if g.Role != auth.RoleHost {
		return nil, wire.Errorf(wire.CodeForbidden, "WHIP needs a host token, not %s", g.Role)
	}
	if err := checkOffer(offer); err != nil {
		return nil, err
	}
	p, err := m.join(g, peer, JoinOptions{clientOffers: true})
	if err != nil {
		return nil, err
	}
	if err := p.Offer("", offer); err != nil {
		// As a dropped connection: a host back for its live keeps it a while.
		p.Disconnected()
		return nil, err
	}
	return p, nil
}
