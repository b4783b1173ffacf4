package loadgen

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/client/synth"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// hangupTimeout bounds the hang-up request at the end of a call.
const hangupTimeout = 5 * time.Second

// callEnv is what every pair shares with the run.
type callEnv struct {
	url   string
	token func(identity string) (string, error)
	api   *webrtc.API // one API for every device
	mode  string
	video *synth.VideoConfig // nil for voice calls
	up    *atomic.Int64      // calls set up and not ended

	joinTO, setupTO time.Duration
}

// device is one synthetic caller device: a client joined with a caller
// token, a receiver for what the other side sends and a sender for its own
// media. Its fields are written while the call is set up, before the run
// reads them.
type device struct {
	identity string
	side     string // "caller" or "callee", for failure reasons that group across pairs
	rx       *receiver

	c         *client.Client
	tx        *sender // nil until it publishes
	joinStart time.Time
	joinedAt  time.Time
}

// callPair is one 1:1 call: a invites b, b answers, both publish and each
// receives the other.
type callPair struct {
	a, b *device

	mu       sync.Mutex // guards the fields below
	callID   string
	answered bool      // the call was accepted; hang it up at the end
	inviteAt time.Time // just before the invite was sent
	mediaAt  time.Time // both sides had received media from the other
	err      error
}

// run is the pair's whole life, on the goroutine the run gave it: connect
// both devices and set the call up (bounded by setupCtx and the timeouts),
// mark setup done whatever the outcome, then talk until life ends, and hang
// up and close everything.
func (p *callPair) run(env *callEnv, setupCtx, life context.Context, setup *sync.WaitGroup) {
	defer p.close()
	err := p.setUp(setupCtx, env)
	setup.Done()
	if err != nil {
		p.setErr(err)
		return
	}
	env.up.Add(1)
	defer env.up.Add(-1)
	if err := p.watch(life, nil); err != nil {
		p.setErr(err)
	}
}

// setUp connects both devices, then a invites, b answers on call.ringing,
// both publish, and it waits for media from the other side at each.
func (p *callPair) setUp(ctx context.Context, env *callEnv) error {
	var connecting sync.WaitGroup
	var errA, errB error
	connecting.Go(func() { errA = p.a.connect(ctx, env) })
	connecting.Go(func() { errB = p.b.connect(ctx, env) })
	connecting.Wait()
	if err := errors.Join(errA, errB); err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, env.setupTO)
	defer cancel()
	// Goroutine: b's side of the setup, joined below before setUp returns.
	answered := make(chan error, 1)
	go func() { answered <- p.b.answer(ctx, env, p.a.identity) }()
	err := p.place(ctx, env)
	if err != nil {
		cancel() // b would otherwise wait for a ring that never comes
	}
	if errB := <-answered; err == nil && errB != nil {
		err = errB
	}
	if err != nil {
		return err
	}
	var firstA, firstB time.Time
	both := func() bool {
		firstA, firstB = p.a.rx.snapshot(false).first, p.b.rx.snapshot(false).first
		return !firstA.IsZero() && !firstB.IsZero()
	}
	if err := p.watch(ctx, both); err != nil {
		return err
	}
	if !both() {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("no media both ways within the setup timeout (%v; caller received %v, callee %v)",
				env.setupTO, !firstA.IsZero(), !firstB.IsZero())
		}
		return errors.New("setup interrupted")
	}
	p.mu.Lock()
	p.mediaAt = later(firstA, firstB)
	p.mu.Unlock()
	return nil
}

// place is a's side: invite, wait for the answer, publish.
func (p *callPair) place(ctx context.Context, env *callEnv) error {
	a, callee := p.a, p.b.identity
	p.mu.Lock()
	p.inviteAt = time.Now()
	p.mu.Unlock()
	call, err := a.c.Invite(ctx, callee, env.mode)
	if err != nil {
		return fmt.Errorf("caller invites: %w", err)
	}
	if call.State != wire.CallRinging {
		return fmt.Errorf("caller invites: call %s", endReason(call))
	}
	p.mu.Lock()
	p.callID = call.ID
	p.mu.Unlock()
	if _, err := awaitCall(ctx, a.c, wire.TypeCallAccepted, func(c wire.Call) bool { return c.ID == call.ID }); err != nil {
		return fmt.Errorf("caller awaits the answer: %w", err)
	}
	p.mu.Lock()
	p.answered = true
	p.mu.Unlock()
	return a.publish(ctx, env)
}

// answer is the callee's side: accept the call from caller when it rings,
// then publish.
func (d *device) answer(ctx context.Context, env *callEnv, caller string) error {
	call, err := awaitCall(ctx, d.c, wire.TypeCallRinging, func(c wire.Call) bool { return c.Caller == caller })
	if err != nil {
		return fmt.Errorf("callee awaits the ring: %w", err)
	}
	if _, err := d.c.Accept(ctx, call.ID); err != nil {
		return fmt.Errorf("callee accepts: %w", err)
	}
	return d.publish(ctx, env)
}

func (d *device) connect(ctx context.Context, env *callEnv) error {
	tok, err := env.token(d.identity)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, env.joinTO)
	defer cancel()
	d.joinStart = time.Now()
	c, err := client.Join(ctx, client.Config{
		URL: env.url, Token: tok, API: env.api,
		OnTrack: func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { d.rx.readTrack(t) },
	})
	if err != nil {
		return fmt.Errorf("%s connects: %w", d.side, err)
	}
	d.c, d.joinedAt = c, time.Now()
	return nil
}

func (d *device) publish(ctx context.Context, env *callEnv) error {
	tx, err := newSender(d.identity, env.video)
	if err == nil {
		err = tx.publish(ctx, d.c)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", d.side, err)
	}
	d.tx = tx
	tx.start()
	return nil
}

// awaitCall reads c's events until one of type typ about a call that match
// accepts, and returns that call. The end of that call is an error, as is
// the end of c or of ctx.
func awaitCall(ctx context.Context, c *client.Client, typ string, match func(wire.Call) bool) (wire.Call, error) {
	for {
		select {
		case <-ctx.Done():
			return wire.Call{}, fmt.Errorf("no %s: %w", typ, ctx.Err())
		case m, ok := <-c.Events():
			if !ok {
				return wire.Call{}, fmt.Errorf("connection ended: %w", c.Err())
			}
			if m.Call == nil || !match(*m.Call) {
				continue
			}
			switch m.Type {
			case typ:
				return *m.Call, nil
			case wire.TypeCallEnded:
				return wire.Call{}, fmt.Errorf("call ended: %s", endReason(*m.Call))
			}
		}
	}
}

// watch reads both devices' events until ctx ends (nil) or done holds,
// checked every 10 ms; the end of the call or of either connection is an
// error. done nil waits for ctx alone.
func (p *callPair) watch(ctx context.Context, done func() bool) error {
	var tick <-chan time.Time
	if done != nil {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		tick = t.C
	}
	p.mu.Lock()
	id := p.callID
	p.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
			if done() {
				return nil
			}
		case m, ok := <-p.a.c.Events():
			if err := callEvent(p.a, id, m, ok); err != nil {
				return err
			}
		case m, ok := <-p.b.c.Events():
			if err := callEvent(p.b, id, m, ok); err != nil {
				return err
			}
		}
	}
}

// callEvent turns an event at d that ends call id, or the end of d's
// events, into an error.
func callEvent(d *device, id string, m wire.Message, ok bool) error {
	switch {
	case !ok:
		return fmt.Errorf("%s connection ended: %w", d.side, d.c.Err())
	case m.Type == wire.TypeCallEnded && m.Call != nil && m.Call.ID == id:
		return fmt.Errorf("call ended early (%s)", endReason(*m.Call))
	}
	return nil
}

func later(x, y time.Time) time.Time {
	if y.After(x) {
		return y
	}
	return x
}

func endReason(c wire.Call) string {
	if c.Reason == "" {
		return c.Outcome
	}
	return c.Outcome + ", " + c.Reason
}

// close stops both senders, hangs up an answered call and closes both
// devices; each step is bounded.
func (p *callPair) close() {
	for _, d := range []*device{p.a, p.b} {
		if d.tx != nil {
			_ = d.tx.stop()
		}
	}
	p.mu.Lock()
	id, answered := p.callID, p.answered
	p.mu.Unlock()
	if answered && p.a.c != nil {
		ctx, cancel := context.WithTimeout(context.Background(), hangupTimeout)
		_, _ = p.a.c.Hangup(ctx, id)
		cancel()
	}
	for _, d := range []*device{p.a, p.b} {
		if d.c != nil {
			_ = d.c.Close()
		}
	}
}

func (p *callPair) setErr(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		p.err = err
	}
}

// live reports whether the call is set up and both devices' subscriber
// connections are up now.
func (p *callPair) live() bool {
	p.mu.Lock()
	ok := p.err == nil && !p.mediaAt.IsZero()
	p.mu.Unlock()
	if !ok {
		return false
	}
	for _, d := range []*device{p.a, p.b} {
		pc := d.c.Subscriber()
		if pc == nil || pc.ConnectionState() != webrtc.PeerConnectionStateConnected {
			return false
		}
	}
	return true
}
