package call

import (
	"context"
	"log/slog"
	"time"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/room"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// Device is one signaling connection of a caller. Its methods are called by
// that connection, one at a time; media requests go to the device's participant
// in its current call.
type Device struct {
	svc   *Service
	id    string
	grant auth.Grant
	peer  room.Peer
	log   *slog.Logger

	// Guarded by svc.mu.
	call *call             // the call this device placed or answered
	part *room.Participant // its side of the answered call's room
	gone bool
}

// Invite rings callee for a call in mode (voice or video). The answer, echoing
// id, is call.calling while the callee's devices ring, or call.ended when the
// outcome is known at once (busy, unavailable).
func (d *Device) Invite(id, callee, mode string) error {
	s := d.svc
	if mode != ModeVoice && mode != ModeVideo {
		return wire.Errorf(wire.CodeBadMessage, "mode must be %q or %q", ModeVoice, ModeVideo)
	}
	if callee == "" {
		return wire.Errorf(wire.CodeInvalidCallee, "name the callee")
	}
	if callee == d.grant.Identity {
		return wire.Errorf(wire.CodeInvalidCallee, "you cannot call yourself")
	}
	now := s.cfg.Now()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return wire.Errorf(wire.CodeUnavailable, "server is shutting down")
	}
	if d.call != nil || s.busy[d.grant.Identity] != nil {
		s.mu.Unlock()
		return wire.Errorf(wire.CodeInCall, "you are already in a call")
	}
	if !s.caller.allow(d.grant.Identity, now) {
		s.mu.Unlock()
		return wire.Errorf(wire.CodeRateLimited, "too many calls placed; wait a little")
	}
	if !s.callee.allow(callee, now) {
		s.mu.Unlock()
		return wire.Errorf(wire.CodeRateLimited, "this user is receiving too many calls; try later")
	}
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	exists, err := s.cfg.Store.UserExists(ctx, callee)
	if err != nil {
		d.log.Error("look up callee", "err", err)
		return wire.Errorf(wire.CodeInternal, "cannot look up the callee")
	}
	if !exists {
		return wire.Errorf(wire.CodeUnknownUser, "no user %q", callee)
	}
	settings, _, err := s.cfg.Store.Settings(ctx, callee)
	if err != nil {
		d.log.Error("read callee settings", "err", err)
		return wire.Errorf(wire.CodeInternal, "cannot read the callee's settings")
	}

	c := &call{
		id: newID("CA_"), caller: d.grant.Identity, callerName: d.grant.Name, callee: callee,
		mode: mode, state: wire.CallRinging, started: now, callerDev: d, away: map[string]*time.Timer{},
	}
	s.mu.Lock()
	var after func()
	switch ok, reason := settings.Allows(mode, now); {
	case d.gone || s.closed:
		s.mu.Unlock()
		return nil
	case d.call != nil || s.busy[d.grant.Identity] != nil:
		s.mu.Unlock()
		return wire.Errorf(wire.CodeInCall, "you are already in a call")
	case !ok: // the callee is not disturbed
		after = s.endLocked(c, OutcomeUnavailable, reason, d, id)
	case len(s.devices[callee]) == 0:
		after = s.endLocked(c, OutcomeUnavailable, ReasonOffline, d, id)
	case s.busy[callee] != nil:
		after = s.endLocked(c, OutcomeBusy, "", d, id)
	default:
		s.calls[c.id] = c
		s.busy[c.caller] = c
		s.busy[c.callee] = c
		d.call = c
		c.ring = time.AfterFunc(s.cfg.RingTimeout, func() { s.ringTimeout(c) })
		w := c.wire()
		d.peer.Send(wire.Message{Type: wire.TypeCallCalling, ID: id, Call: w})
		for dev := range s.devices[callee] {
			dev.peer.Send(wire.Message{Type: wire.TypeCallRinging, Call: w})
		}
		d.log.Info("calling", "call", c.id, "callee", callee, "mode", mode)
	}
	s.mu.Unlock()
	if after != nil {
		after()
	}
	return nil
}

// Accept answers a ringing call on this device: the caller and this device get
// call.accepted (this one echoing id), the callee's other devices stop ringing,
// and both sides join the call's room, which offers them its media.
func (d *Device) Accept(id, callID string) error {
	s := d.svc
	s.mu.Lock()
	after, err := d.acceptLocked(id, callID)
	s.mu.Unlock()
	if after != nil {
		after()
	}
	return err
}

func (d *Device) acceptLocked(id, callID string) (after func(), err error) {
	s := d.svc
	c, err := s.ringingFor(d, callID)
	if err != nil {
		return nil, err
	}
	r, err := s.cfg.Rooms.OpenCall(c.id, c.mode == ModeVideo)
	if err != nil {
		d.log.Error("open call room", "err", err, "call", c.id)
		return s.endLocked(c, OutcomeUnavailable, "server_full", d, id), nil
	}
	now := s.cfg.Now()
	c.state, c.answered, c.calleeDev, c.calleeName, c.room = wire.CallActive, now, d, d.grant.Name, r
	c.ring.Stop()
	d.call = c
	s.cfg.Metrics.CallSetup.Observe(now.Sub(c.started).Seconds())
	w := c.wire()
	for dev := range s.devices[c.callee] {
		if dev != d {
			dev.peer.Send(wire.Message{Type: wire.TypeCallEnded, Call: &wire.Call{
				ID: c.id, Caller: c.caller, CallerName: c.callerName, Callee: c.callee, Mode: c.mode,
				State: wire.CallActive, Outcome: OutcomeAccepted, Reason: "answered_elsewhere",
			}})
		}
	}
	d.peer.Send(wire.Message{Type: wire.TypeCallAccepted, ID: id, Call: w})
	c.callerDev.peer.Send(wire.Message{Type: wire.TypeCallAccepted, Call: w})
	s.joinRoomLocked(c)
	d.log.Info("call answered", "call", c.id)
	return nil, nil
}

// joinRoomLocked puts both devices of an answered call into its room. Joining
// under the lock keeps a hang-up from slipping between the answer and the room:
// the room never calls back into the service, so this cannot deadlock.
func (s *Service) joinRoomLocked(c *call) {
	for _, dev := range []*Device{c.callerDev, c.calleeDev} {
		p, err := c.room.JoinCall(dev.grant, dev.peer)
		if err != nil {
			dev.log.Warn("join call room", "err", err, "call", c.id)
			continue
		}
		dev.part = p
	}
}

// ringingFor returns the ringing call callID for one of the callee's devices.
func (s *Service) ringingFor(d *Device, callID string) (*call, error) {
	c := s.calls[callID]
	switch {
	case c == nil:
		return nil, wire.Errorf(wire.CodeNoSuchCall, "no such call: it was cancelled or has ended")
	case c.callee != d.grant.Identity:
		return nil, wire.Errorf(wire.CodeForbidden, "only the callee answers a call")
	case c.state != wire.CallRinging:
		return nil, wire.Errorf(wire.CodeAlreadyAnswered, "the call was answered already")
	}
	return c, nil
}

// Decline refuses a ringing call for all the callee's devices.
func (d *Device) Decline(id, callID string) error {
	s := d.svc
	s.mu.Lock()
	c, err := s.ringingFor(d, callID)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	after := s.endLocked(c, OutcomeDeclined, "", d, id)
	s.mu.Unlock()
	after()
	return nil
}

// Cancel gives up a call this device placed before it was answered.
func (d *Device) Cancel(id, callID string) error {
	s := d.svc
	s.mu.Lock()
	c := s.calls[callID]
	switch {
	case c == nil:
		s.mu.Unlock()
		return wire.Errorf(wire.CodeNoSuchCall, "no such call: it has ended")
	case c.callerDev != d:
		s.mu.Unlock()
		return wire.Errorf(wire.CodeForbidden, "only the caller's device cancels a call")
	case c.state != wire.CallRinging:
		s.mu.Unlock()
		return wire.Errorf(wire.CodeAlreadyAnswered, "the call was answered: hang up instead")
	}
	after := s.endLocked(c, OutcomeCancelled, "", d, id)
	s.mu.Unlock()
	after()
	return nil
}

// Hangup ends this device's call for both sides. On a call still ringing it
// cancels (the caller) or declines (a callee's device).
func (d *Device) Hangup(id, callID string) error {
	s := d.svc
	s.mu.Lock()
	c := s.calls[callID]
	if c != nil && c.state == wire.CallRinging {
		s.mu.Unlock()
		if c.callerDev == d {
			return d.Cancel(id, callID)
		}
		return d.Decline(id, callID)
	}
	if c == nil || !c.party(d) {
		s.mu.Unlock()
		return wire.Errorf(wire.CodeNoSuchCall, "no such call on this device")
	}
	after := s.endLocked(c, OutcomeAccepted, EndHangup, d, id)
	s.mu.Unlock()
	after()
	return nil
}

// SetMode switches an answered call between voice and video. Both sides get
// call.mode; then either may publish (or stop publishing) video.
func (d *Device) SetMode(id, callID, mode string) error {
	s := d.svc
	if mode != ModeVoice && mode != ModeVideo {
		return wire.Errorf(wire.CodeBadMessage, "mode must be %q or %q", ModeVoice, ModeVideo)
	}
	s.mu.Lock()
	c := s.calls[callID]
	if c == nil || !c.party(d) || c.state != wire.CallActive {
		s.mu.Unlock()
		return wire.Errorf(wire.CodeNoSuchCall, "no answered call %q on this device", callID)
	}
	callee := c.callee
	s.mu.Unlock()
	if mode == ModeVideo {
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		settings, _, err := s.cfg.Store.Settings(ctx, callee)
		cancel()
		if err != nil {
			return wire.Errorf(wire.CodeInternal, "cannot read the callee's settings")
		}
		if ok, reason := settings.Allows(ModeVideo, s.cfg.Now()); !ok && reason == ReasonModeNotAccepted {
			return wire.Errorf(wire.CodeForbidden, "the callee does not take video calls")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.state != wire.CallActive {
		return wire.Errorf(wire.CodeNoSuchCall, "the call has ended")
	}
	c.mode = mode
	c.room.SetVideo(mode == ModeVideo)
	w := c.wire()
	for _, dev := range []*Device{c.callerDev, c.calleeDev} {
		if dev == nil {
			continue
		}
		m := wire.Message{Type: wire.TypeCallMode, Call: w}
		if dev == d {
			m.ID = id
		}
		dev.peer.Send(m)
	}
	return nil
}

// participant is the device's side of its answered call.
func (d *Device) participant() (*room.Participant, error) {
	d.svc.mu.Lock()
	p := d.part
	d.svc.mu.Unlock()
	if p == nil {
		return nil, wire.Errorf(wire.CodeNoSession, "not in an answered call")
	}
	return p, nil
}

// Offer publishes this side's media in its call (see room.Participant.Offer).
func (d *Device) Offer(id, sdp string) error {
	p, err := d.participant()
	if err != nil {
		return err
	}
	return p.Offer(id, sdp)
}

// Answer answers the call room's subscriber offer.
func (d *Device) Answer(sdp string) error {
	p, err := d.participant()
	if err != nil {
		return err
	}
	return p.Answer(sdp)
}

// Candidate trickles an ICE candidate to one of the call's connections.
func (d *Device) Candidate(t wire.Target, c *wire.Candidate) error {
	p, err := d.participant()
	if err != nil {
		return err
	}
	return p.Candidate(t, c)
}

// ICERestart re-offers this side's subscriber in its call with new ICE
// credentials (see room.Participant.ICERestart).
func (d *Device) ICERestart(t wire.Target) error {
	p, err := d.participant()
	if err != nil {
		return err
	}
	return p.ICERestart(t)
}

// SetMuted turns this side's mic or camera off or on.
func (d *Device) SetMuted(kind string, muted bool) error {
	p, err := d.participant()
	if err != nil {
		return err
	}
	return p.SetMuted(kind, muted)
}

// SetVideoSize says how large this device shows the other side's video.
func (d *Device) SetVideoSize(width, height int) error {
	p, err := d.participant()
	if err != nil {
		return err
	}
	return p.SetVideoSize(width, height)
}

// EndLive is not a caller's request.
func (d *Device) EndLive() error {
	return wire.Errorf(wire.CodeForbidden, "callers have no live to end; hang up with call.hangup")
}

// Leave disconnects the device on purpose: its call, if any, is hung up.
func (d *Device) Leave() { d.svc.deviceGone(d, true) }

// Disconnected removes a device whose connection dropped: its answered call
// waits ReconnectGrace for the user to come back.
func (d *Device) Disconnected() { d.svc.deviceGone(d, false) }
