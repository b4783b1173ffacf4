package call

import (
	"context"
	"errors"
	"time"

	"github.com/talkrelay/talkrelay/match"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// Random matching: a device asks to be matched; when the queue pairs its user
// with another waiting user, the two are put straight into a video call (no
// ringing: both asked for it). "next" ends the match and both wait again, each
// skipping the other; a block ends it too and keeps the pair apart for good.

// Reasons a match ends.
const (
	EndNext    = "next"    // one side asked for the next stranger
	EndBlocked = "blocked" // one side blocked the other
)

// matchState is a waiting device: its profile is kept for "next".
type waiter struct {
	d       *Device
	profile match.Profile
}

// MatchReporter stores a report on a matched user for review.
type MatchReporter func(ctx context.Context, reporter, reported, callID, reason string) error

// Match puts the device's user in the match queue with profile. The answer,
// echoing id, is match.waiting, or call.accepted at once when a partner waits.
func (d *Device) Match(id string, p *wire.MatchProfile) error {
	s := d.svc
	if s.queue == nil {
		return wire.Errorf(wire.CodeForbidden, "this server does not match strangers")
	}
	prof := matchProfile(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.call != nil || s.busy[d.grant.Identity] != nil {
		return wire.Errorf(wire.CodeInCall, "you are in a call: hang up or use match.next")
	}
	if w := s.waiting[d.grant.Identity]; w != nil {
		return wire.Errorf(wire.CodeBadMessage, "you are already waiting to be matched")
	}
	return s.enqueueLocked(d, prof, id)
}

// enqueueLocked queues d's user, or connects it at once with a waiting partner.
func (s *Service) enqueueLocked(d *Device, prof match.Profile, replyID string) error {
	partner, matched, err := s.queue.Enqueue(d.grant.Identity, prof)
	if err != nil {
		if errors.Is(err, match.ErrInvalidProfile) || errors.Is(err, match.ErrInvalidUser) {
			return wire.Errorf(wire.CodeBadMessage, "%v", err)
		}
		return wire.Errorf(wire.CodeUnavailable, "cannot wait for a match now: %v", err)
	}
	if !matched {
		s.waiting[d.grant.Identity] = &waiter{d: d, profile: prof}
		d.peer.Send(wire.Message{Type: wire.TypeMatchWaiting, ID: replyID})
		s.armMatchLocked()
		return nil
	}
	w := s.waiting[partner]
	delete(s.waiting, partner)
	if w == nil { // cannot happen: the queue only holds waiters
		return wire.Errorf(wire.CodeInternal, "match partner vanished")
	}
	s.connectLocked(w, &waiter{d: d, profile: prof}, replyID)
	return nil
}

// connectLocked starts the video call of a matched pair: a is the one who
// waited, b the newcomer (who gets the answer to replyID).
func (s *Service) connectLocked(a, b *waiter, replyID string) {
	now := s.cfg.Now()
	c := &call{
		id: newID("CA_"), caller: a.d.grant.Identity, callerName: a.d.grant.Name,
		callee: b.d.grant.Identity, calleeName: b.d.grant.Name, mode: ModeVideo, state: wire.CallActive,
		started: now, answered: now, callerDev: a.d, calleeDev: b.d, away: map[string]*time.Timer{},
		match: true, profiles: [2]match.Profile{a.profile, b.profile},
	}
	r, err := s.cfg.Rooms.OpenCall(c.id, true)
	if err != nil {
		s.log.Error("open match room", "err", err)
		b.d.peer.Send(wire.Message{Type: wire.TypeError, ID: replyID, Error: wire.Errorf(wire.CodeUnavailable, "no room for a call now")})
		s.waiting[a.d.grant.Identity] = a // a keeps waiting; it left the queue, so put it back
		if _, _, err := s.queue.Enqueue(a.d.grant.Identity, a.profile); err != nil {
			delete(s.waiting, a.d.grant.Identity)
		}
		return
	}
	c.room = r
	s.calls[c.id] = c
	s.busy[c.caller], s.busy[c.callee] = c, c
	a.d.call, b.d.call = c, c
	w := c.wire()
	a.d.peer.Send(wire.Message{Type: wire.TypeCallAccepted, Call: w})
	b.d.peer.Send(wire.Message{Type: wire.TypeCallAccepted, ID: replyID, Call: w})
	s.joinRoomLocked(c)
	s.log.Info("matched", "call", c.id, "a", c.caller, "b", c.callee)
}

// Unmatch takes the device's user out of the match queue.
func (d *Device) Unmatch(id string) error {
	s := d.svc
	s.mu.Lock()
	defer s.mu.Unlock()
	if w := s.waiting[d.grant.Identity]; w == nil || w.d != d {
		return wire.Errorf(wire.CodeNoSession, "not waiting to be matched")
	}
	s.unwaitLocked(d.grant.Identity)
	d.peer.Send(wire.Message{Type: wire.TypeMatchLeft, ID: id})
	return nil
}

func (s *Service) unwaitLocked(identity string) {
	delete(s.waiting, identity)
	s.queue.Remove(identity)
	s.armMatchLocked()
}

// Next ends the device's match; both sides wait again, each skipping the other.
func (d *Device) Next(id string) error {
	return d.leaveMatch(id, "", EndNext)
}

// Block ends a match with identity, if any, and never pairs the two again.
func (d *Device) Block(id, identity string) error {
	s := d.svc
	if s.queue == nil {
		return wire.Errorf(wire.CodeForbidden, "this server does not match strangers")
	}
	if identity == "" || identity == d.grant.Identity {
		return wire.Errorf(wire.CodeInvalidCallee, "name the user to block")
	}
	if err := s.queue.Block(d.grant.Identity, identity); err != nil {
		return wire.Errorf(wire.CodeBadMessage, "cannot block %q: %v", identity, err)
	}
	err := d.leaveMatch(id, identity, EndBlocked)
	var we *wire.Error
	if errors.As(err, &we) && we.Code == wire.CodeNoSuchCall {
		d.peer.Send(wire.Message{Type: wire.TypeMatchLeft, ID: id}) // blocked; no match to end
		return nil
	}
	return err
}

// leaveMatch ends the device's match call (with only, if set) for reason and
// puts both users back in the queue, each skipping the other.
func (d *Device) leaveMatch(id, only, reason string) error {
	s := d.svc
	s.mu.Lock()
	c := d.call
	if c == nil || !c.match || c.state != wire.CallActive || (only != "" && c.caller != only && c.callee != only) {
		s.mu.Unlock()
		return wire.Errorf(wire.CodeNoSuchCall, "not in a match")
	}
	devs := []*Device{c.callerDev, c.calleeDev}
	profs := c.profiles
	after := s.endLocked(c, OutcomeAccepted, reason, d, id)
	// The one left waits first (it did not choose to leave), then the one who left.
	order := []int{0, 1}
	if devs[0] == d {
		order = []int{1, 0}
	}
	for _, i := range order {
		dev := devs[i]
		if dev == nil || dev.gone {
			continue
		}
		p := profs[i]
		p.Skip = devs[1-i].grant.Identity
		if err := s.enqueueLocked(dev, p, ""); err != nil {
			dev.log.Warn("re-queue after match", "err", err)
		}
	}
	s.mu.Unlock()
	after()
	return nil
}

// Report stores a report on identity, met in a match, for review.
func (d *Device) Report(id, identity, reason string) error {
	s := d.svc
	if s.cfg.ReportMatch == nil {
		return wire.Errorf(wire.CodeForbidden, "this server takes no reports")
	}
	if identity == "" || len(reason) > 500 {
		return wire.Errorf(wire.CodeBadMessage, "report needs an identity and a reason of at most 500 bytes")
	}
	s.mu.Lock()
	callID := ""
	if c := d.call; c != nil && (c.caller == identity || c.callee == identity) {
		callID = c.id
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := s.cfg.ReportMatch(ctx, d.grant.Identity, identity, callID, reason); err != nil {
		d.log.Error("store match report", "err", err)
		return wire.Errorf(wire.CodeInternal, "cannot store the report")
	}
	d.peer.Send(wire.Message{Type: wire.TypeMatchReported, ID: id})
	return nil
}

// armMatchLocked (re)arms the widening timer for the queue's next deadline.
func (s *Service) armMatchLocked() {
	if s.matchTimer != nil {
		s.matchTimer.Stop()
		s.matchTimer = nil
	}
	at, ok := s.queue.NextDeadline()
	if !ok || s.closed {
		return
	}
	s.matchTimer = time.AfterFunc(max(time.Until(at), 0), s.widen)
}

// widen applies due widening steps and connects the pairs they make.
func (s *Service) widen() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	for _, p := range s.queue.Tick() {
		a, b := s.waiting[p.A], s.waiting[p.B]
		delete(s.waiting, p.A)
		delete(s.waiting, p.B)
		if a == nil || b == nil {
			continue
		}
		s.connectLocked(a, b, "")
	}
	s.armMatchLocked()
}

func matchProfile(p *wire.MatchProfile) match.Profile {
	if p == nil {
		return match.Profile{}
	}
	return match.Profile{
		Attrs: p.Attrs, Interests: p.Interests,
		Want: match.Preferences{Attrs: p.Want.Attrs, CommonInterest: p.Want.CommonInterest},
	}
}
