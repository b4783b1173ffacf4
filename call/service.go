// Package call rings people: 1:1 voice and video calls between users who stay
// reachable on signaling (FaceTalk, MatchCall). It keeps who is connected on
// which devices, rings every device of the callee, settles each invitation's
// outcome (accepted, declined, busy, no answer, unavailable, cancelled), honours
// the callee's available hours and accepted modes, puts both sides of an
// answered call into a two-party room and keeps the call's record.
package call

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/match"
	"github.com/talkrelay/talkrelay/metrics"
	"github.com/talkrelay/talkrelay/room"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// Config configures a Service.
type Config struct {
	Rooms  *room.Manager
	Store  Store
	Logger *slog.Logger
	// RingTimeout is how long a call rings before it ends as no_answer. Default 30 s.
	RingTimeout time.Duration
	// ReconnectGrace is how long an answered call waits for a side whose
	// connection dropped. Default 15 s.
	ReconnectGrace time.Duration
	// CalleeInvites bounds the invitations one user receives: Burst at once, then
	// one per Every. Default 5, then one every 6 s. CallerInvites bounds those
	// one user sends. Default 10, then one every 3 s.
	CalleeInvites, CallerInvites Rate
	// Metrics counts outcomes and times answers; nil records into unregistered metrics.
	Metrics *metrics.SFU
	// Now is the clock for available hours; nil means time.Now.
	Now func() time.Time
	// Match, when set, enables random matching with this queue configuration
	// (its Now defaults to the service's clock).
	Match *match.Config
	// ReportMatch stores reports on matched users; nil refuses reports.
	ReportMatch MatchReporter
	// ICEServers, when set, gives the ICE servers (TURN with fresh
	// credentials) a device's joined carries for an identity.
	ICEServers func(identity string) []wire.ICEServer
}

// Service is the call switchboard of one server.
type Service struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	devices map[string]map[*Device]struct{} // identity → its connected devices
	calls   map[string]*call                // id → a ringing or active call
	busy    map[string]*call                // identity → the call it is in
	callee  limiterSet
	caller  limiterSet
	closed  bool
	// Random matching: the queue, who waits on which device, and the timer of
	// the queue's next widening.
	queue      *match.Queue
	waiting    map[string]*waiter
	matchTimer *time.Timer
	// ending counts ended calls whose rooms and records are still being closed
	// and saved: Shutdown waits for them, so none reaches a closed store.
	ending sync.WaitGroup
}

// storeTimeout bounds each store request a call operation makes.
const storeTimeout = 5 * time.Second

// NewService returns a Service for cfg.
func NewService(cfg Config) (*Service, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Store == nil {
		cfg.Store = NewMemoryStore()
	}
	if cfg.RingTimeout == 0 {
		cfg.RingTimeout = 30 * time.Second
	}
	if cfg.ReconnectGrace == 0 {
		cfg.ReconnectGrace = 15 * time.Second
	}
	if cfg.CalleeInvites == (Rate{}) {
		cfg.CalleeInvites = Rate{Burst: 5, Every: 6 * time.Second}
	}
	if cfg.CallerInvites == (Rate{}) {
		cfg.CallerInvites = Rate{Burst: 10, Every: 3 * time.Second}
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewSFU(nil)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{
		cfg: cfg, log: cfg.Logger.With("component", "call"),
		devices: map[string]map[*Device]struct{}{}, calls: map[string]*call{}, busy: map[string]*call{},
		callee: newLimiterSet(cfg.CalleeInvites), caller: newLimiterSet(cfg.CallerInvites),
		waiting: map[string]*waiter{},
	}
	if cfg.Match != nil {
		mc := *cfg.Match
		if mc.Now == nil {
			mc.Now = cfg.Now
		}
		q, err := match.NewQueue(mc)
		if err != nil {
			return nil, fmt.Errorf("call: match queue: %w", err)
		}
		s.queue = q
	}
	return s, nil
}

// Connect makes a caller's connection one of its devices, reachable for calls,
// and sends it joined (echoing joinID). A device that comes back while its
// answered call waits for it resumes the call; one that connects while its user
// is being called starts ringing too.
func (s *Service) Connect(g auth.Grant, peer room.Peer, joinID string) (*Device, error) {
	if g.Role != auth.RoleCaller {
		return nil, &wire.Error{Code: wire.CodeForbidden, Message: "only callers connect for calls", Fatal: true}
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	err := s.cfg.Store.RememberUser(ctx, g.Identity, g.Name)
	cancel()
	if err != nil {
		s.log.Error("remember user", "err", err)
		return nil, &wire.Error{Code: wire.CodeInternal, Message: "cannot register this user", Fatal: true}
	}
	d := &Device{svc: s, id: newID("DV_"), grant: g, peer: peer}
	d.log = s.log.With("identity", g.Identity, "device", d.id)

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, &wire.Error{Code: wire.CodeUnavailable, Message: "server is shutting down", Fatal: true}
	}
	devs := s.devices[g.Identity]
	if devs == nil {
		devs = map[*Device]struct{}{}
		s.devices[g.Identity] = devs
	}
	devs[d] = struct{}{}
	joined := &wire.Joined{Identity: g.Identity, Name: g.Name, Role: string(g.Role), ParticipantID: d.id}
	if s.cfg.ICEServers != nil {
		joined.ICEServers = s.cfg.ICEServers(g.Identity)
	}
	peer.Send(wire.Message{Type: wire.TypeJoined, ID: joinID, Joined: joined})
	if c := s.busy[g.Identity]; c != nil {
		switch {
		case c.state == wire.CallRinging && c.callee == g.Identity:
			peer.Send(wire.Message{Type: wire.TypeCallRinging, Call: c.wire()})
		case c.state == wire.CallActive && c.away[g.Identity] != nil:
			s.resumeLocked(c, d)
		}
	}
	d.log.Debug("device connected")
	return d, nil
}

// Shutdown ends every call (recording it) and refuses new devices.
func (s *Service) Shutdown() {
	s.mu.Lock()
	s.closed = true
	if s.matchTimer != nil {
		s.matchTimer.Stop()
	}
	var after []func()
	for _, c := range s.calls {
		outcome := OutcomeCancelled // ringing: the caller cannot wait for an answer
		if c.state == wire.CallActive {
			outcome = OutcomeAccepted
		}
		after = append(after, s.endLocked(c, outcome, EndShutdown, nil, ""))
	}
	s.mu.Unlock()
	for _, f := range after {
		f()
	}
	s.ending.Wait()
}

// endLocked ends c with its outcome and tells everyone it concerns; the returned
// function, run without the lock, closes its room and stores its record. The
// device replyTo, if any, gets the event as the answer to its request replyID.
func (s *Service) endLocked(c *call, outcome, reason string, replyTo *Device, replyID string) func() {
	now := s.cfg.Now()
	wasRinging := c.state == wire.CallRinging
	c.state = wire.CallEnded
	if c.ring != nil {
		c.ring.Stop()
	}
	for _, t := range c.away {
		t.Stop()
	}
	delete(s.calls, c.id)
	for _, identity := range []string{c.caller, c.callee} {
		if s.busy[identity] == c {
			delete(s.busy, identity)
		}
	}
	rec := c.record(outcome, reason, now)
	w := recordWire(rec)
	notify := map[*Device]bool{}
	for _, d := range []*Device{c.callerDev, c.calleeDev} {
		if d != nil {
			notify[d] = true
			d.call, d.part = nil, nil
		}
	}
	if wasRinging {
		for d := range s.devices[c.callee] {
			notify[d] = true
		}
	}
	for d := range notify {
		m := wire.Message{Type: wire.TypeCallEnded, Call: w}
		if d == replyTo {
			m.ID = replyID
		}
		d.peer.Send(m)
	}
	r := c.room
	s.ending.Add(1)
	return func() {
		defer s.ending.Done()
		if r != nil {
			r.Close()
		}
		s.cfg.Metrics.CallEnded(outcome)
		if !rec.AnsweredAt.IsZero() {
			s.cfg.Metrics.CallDuration.Observe(float64(rec.DurationMS) / 1000)
		}
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		defer cancel()
		if err := s.cfg.Store.SaveCall(ctx, rec); err != nil {
			s.log.Error("save call record", "err", err, "call", rec.ID)
		}
		s.log.Info("call ended", "call", rec.ID, "outcome", outcome, "reason", reason, "duration_ms", rec.DurationMS)
	}
}

// ringTimeout ends a call nobody answered.
func (s *Service) ringTimeout(c *call) {
	s.mu.Lock()
	if c.state != wire.CallRinging {
		s.mu.Unlock()
		return
	}
	after := s.endLocked(c, OutcomeNoAnswer, "", nil, "")
	s.mu.Unlock()
	after()
}

// graceExpired ends an answered call whose side did not come back.
func (s *Service) graceExpired(c *call, identity string) {
	s.mu.Lock()
	if c.state != wire.CallActive || c.away[identity] == nil {
		s.mu.Unlock()
		return
	}
	after := s.endLocked(c, OutcomeAccepted, EndDropped, nil, "")
	s.mu.Unlock()
	after()
}

// resumeLocked puts a reconnected device back into its answered call.
func (s *Service) resumeLocked(c *call, d *Device) {
	c.away[d.grant.Identity].Stop()
	delete(c.away, d.grant.Identity)
	if d.grant.Identity == c.caller {
		c.callerDev = d
	} else {
		c.calleeDev = d
	}
	d.call = c
	msg := wire.Message{Type: wire.TypeCallResumed, Call: c.wire()}
	d.peer.Send(msg)
	part, err := c.room.JoinCall(d.grant, d.peer)
	if err != nil {
		d.log.Warn("rejoin call room", "err", err, "call", c.id)
		return
	}
	d.part = part
	if o := c.other(d); o != nil {
		o.peer.Send(msg)
	}
	d.log.Info("call resumed", "call", c.id)
}

// deviceGone removes a device whose connection ended. Leaving on purpose hangs
// up its call; a dropped connection leaves an answered call waiting for it.
func (s *Service) deviceGone(d *Device, onPurpose bool) {
	s.mu.Lock()
	d.gone = true
	identity := d.grant.Identity
	if devs := s.devices[identity]; devs != nil {
		delete(devs, d)
		if len(devs) == 0 {
			delete(s.devices, identity)
		}
	}
	var after func()
	var part *room.Participant
	if w := s.waiting[identity]; w != nil && w.d == d {
		s.unwaitLocked(identity)
	}
	c := d.call
	switch {
	case c != nil && c.state == wire.CallRinging: // d placed it
		after = s.endLocked(c, OutcomeCancelled, "", nil, "")
	case c != nil && onPurpose:
		after = s.endLocked(c, OutcomeAccepted, EndHangup, nil, "")
	case c != nil:
		part = d.part
		d.call, d.part = nil, nil
		if d == c.callerDev {
			c.callerDev = nil
		} else {
			c.calleeDev = nil
		}
		c.away[identity] = time.AfterFunc(s.cfg.ReconnectGrace, func() { s.graceExpired(c, identity) })
		if o := c.other(d); o != nil {
			o.peer.Send(wire.Message{Type: wire.TypeCallReconnecting, Call: c.wire()})
		}
	default:
		// The last device of a user being called went away: nobody is left to answer.
		if rc := s.busy[identity]; rc != nil && rc.state == wire.CallRinging && rc.callee == identity && len(s.devices[identity]) == 0 {
			after = s.endLocked(rc, OutcomeUnavailable, ReasonOffline, nil, "")
		}
	}
	s.mu.Unlock()
	if part != nil {
		part.Disconnected()
	}
	if after != nil {
		after()
	}
	d.log.Debug("device gone", "on_purpose", onPurpose)
}

func newID(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}
