package room

import (
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/signal/wire"
)

// ICE restart of the subscriber connection: a viewer whose network changed (a
// new Wi-Fi, Wi-Fi to cellular) has lost the path its connection used, though
// the DTLS session, the tracks and the chat channel are all still good. A new
// offer with new ICE credentials finds a new path and keeps everything else.
// The client asks for one (ice_restart), and the server makes one by itself
// when the connection stays down while the client's signaling is attached.

const (
	// iceDownWait is how long a subscriber may stay disconnected before the
	// server restarts its ICE: pion reports disconnected after a few seconds
	// without traffic, and a short outage recovers by itself.
	iceDownWait = 3 * time.Second
	// iceRestartEvery spaces the server's own restarts of one connection, so a
	// client that stays unreachable is not sent one offer after another.
	iceRestartEvery = 5 * time.Second
)

// iceRestart is a subscriber's ICE restart state, guarded by subscriber.mu.
type iceRestart struct {
	pending bool        // the next offer restarts ICE
	offered bool        // the newest offer was a restart
	timer   *time.Timer // the server's own restart, waiting to see the connection stay down
	last    time.Time   // when the newest restart offer was made
}

// ICERestart handles the client's ice_restart for target: its subscriber is
// offered again with new ICE credentials. The client restarts its publisher's
// ICE itself, by offering with new credentials.
func (p *Participant) ICERestart(t wire.Target) error {
	switch t {
	case wire.TargetSubscriber:
	case wire.TargetPublisher:
		return wire.Errorf(wire.CodeBadMessage, "the client restarts the publisher's ICE: send an offer with new ICE credentials")
	default:
		return wire.Errorf(wire.CodeBadMessage, "ice_restart target must be %q", wire.TargetSubscriber)
	}
	p.mu.Lock()
	sub := p.sub
	p.mu.Unlock()
	if sub == nil {
		return wire.Errorf(wire.CodeNoSession, "no subscriber connection to restart")
	}
	sub.restartICE()
	return nil
}

// restartICEIfDown restarts the subscriber's ICE if its connection went down
// while the client was away (its signaling just resumed).
func (p *Participant) restartICEIfDown() {
	p.mu.Lock()
	sub := p.sub
	p.mu.Unlock()
	if sub != nil && iceDown(sub.pc.ConnectionState()) {
		sub.restartICE()
	}
}

// signalingAttached reports whether the client hears the room now: a detached
// participant could not answer a restart offer until it resumes.
func (p *Participant) signalingAttached() bool { return p.sess == nil || p.sess.attached() }

func iceDown(st webrtc.PeerConnectionState) bool {
	return st == webrtc.PeerConnectionStateDisconnected || st == webrtc.PeerConnectionStateFailed
}

// restartICE offers the subscriber again with new ICE credentials, after the
// answer to an outstanding offer if there is one. A restart already on its way
// is not doubled.
func (s *subscriber) restartICE() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || (s.offering && s.ice.offered) || s.ice.pending {
		return
	}
	s.ice.pending = true
	s.negotiateLocked()
}

// offerOptionsLocked returns the options of the next offer: an ICE restart
// when one is pending.
func (s *subscriber) offerOptionsLocked() *webrtc.OfferOptions {
	s.ice.offered = s.ice.pending
	if !s.ice.pending {
		return nil
	}
	s.ice.pending = false
	s.ice.last = time.Now()
	return &webrtc.OfferOptions{ICERestart: true}
}

// watchICE follows the subscriber's connection state: a connection that stays
// disconnected for iceDownWait, or fails, is restarted.
func (s *subscriber) watchICE(st webrtc.PeerConnectionState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case iceDown(st):
		if s.closed || s.ice.timer != nil {
			return
		}
		wait := iceDownWait
		if st == webrtc.PeerConnectionStateFailed {
			wait = 0
		}
		wait = max(wait, iceRestartEvery-time.Since(s.ice.last))
		// A timer, not a goroutine; stopped when the connection comes back.
		s.ice.timer = time.AfterFunc(wait, s.restartIfStillDown)
	case s.ice.timer != nil:
		s.ice.timer.Stop()
		s.ice.timer = nil
	}
}

func (s *subscriber) restartIfStillDown() {
	s.mu.Lock()
	s.ice.timer = nil
	restart := !s.closed && iceDown(s.pc.ConnectionState()) && s.p.signalingAttached()
	s.mu.Unlock()
	if restart {
		s.p.log.Info("subscriber connection down; restarting ICE")
		s.restartICE()
	}
}
