package loadgen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/client/synth"
)

// ErrNoCalls is returned (wrapped) by RunCall when no call was up at the
// end of the window: nothing was measured.
var ErrNoCalls = errors.New("loadgen: no call connected")

// callRun is one execution of the call scenario and owns everything it
// starts.
type callRun struct {
	cfg   CallConfig
	log   *slog.Logger
	gate  phaseGate
	env   *callEnv
	pairs []*callPair

	up    atomic.Int64 // calls set up and not ended
	stage atomic.Value // string, for progress lines
	began time.Time
}

// RunCall executes the call scenario: Pairs calls are placed at PairRate,
// each caller inviting its callee, who answers when it rings; both publish
// and receive. Once every call is set up (or failed within its timeouts)
// and Warmup has run, the steady window of Duration is measured; then every
// call is hung up. Cancelling ctx (Ctrl-C) ends the current phase early and
// the report says Interrupted. RunCall always returns within its timeouts.
//
// A configuration error returns no report; a run in which no call was up at
// the end returns the report together with ErrNoCalls.
func RunCall(ctx context.Context, cfg CallConfig) (*CallReport, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	metricsURL, err := metricsURLFor(cfg.URL, cfg.MetricsURL)
	if err != nil {
		return nil, err
	}
	r, err := newCallRun(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Progress != nil {
		defer startProgress(r.progress)()
	}

	// life ends at hang-up, not at ctx: an interrupted run still hangs up
	// and closes its calls in order.
	life, endLife := context.WithCancel(context.Background())
	defer endLife()
	var setup, all sync.WaitGroup
	r.setStage("calling")
	r.launch(ctx, life, &setup, &all)
	setup.Wait() // each setup is bounded by the join and setup timeouts
	r.log.Info("calls set up", "up", r.up.Load(), "pairs", cfg.Pairs)

	w := callWindow{interrupted: ctx.Err() != nil}
	if r.up.Load() > 0 && !w.interrupted {
		r.setStage("warmup")
		if sleepCtx(ctx, cfg.Warmup) {
			w = r.measure(ctx, metricsURL)
		}
		w.interrupted = w.interrupted || ctx.Err() != nil
	}
	r.gate.set(phaseDone)
	rep := summariseCall(cfg, r.outcomes(), w)

	r.setStage("hangup")
	endLife()
	if !waitTimeout(context.Background(), &all, cfg.TeardownTimeout) {
		r.log.Warn("calls still closing after the teardown timeout", "timeout", cfg.TeardownTimeout)
	}
	if rep.CallsConnected == 0 && !rep.Interrupted {
		return rep, ErrNoCalls
	}
	return rep, nil
}

func newCallRun(cfg CallConfig) (*callRun, error) {
	minter, err := auth.NewMinter(cfg.APIKey, cfg.APISecret)
	if err != nil {
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	// Tokens outlive any run; the SFU checks them only at join.
	ttl := time.Hour + cfg.Duration + cfg.Warmup
	token := func(identity string) (string, error) {
		// Callers join no room: a caller token admits the user's device.
		tok, err := minter.Mint(auth.Grant{Identity: identity, Name: identity, Role: auth.RoleCaller}, ttl)
		if err != nil {
			return "", fmt.Errorf("loadgen: token for %s: %w", identity, err)
		}
		return tok, nil
	}
	plan, err := planNetwork(cfg.URL)
	if err != nil {
		return nil, err
	}
	api, err := client.NewAPI(client.APIOptions{IncludeLoopback: plan.loopback, NetworkTypes: []webrtc.NetworkType{webrtc.NetworkTypeUDP4}})
	if err != nil {
		return nil, fmt.Errorf("loadgen: device api: %w", err)
	}
	r := &callRun{cfg: cfg, log: cfg.Logger, began: time.Now()}
	r.env = &callEnv{
		url: cfg.URL, token: token, api: api, mode: cfg.Mode, up: &r.up,
		joinTO: cfg.JoinTimeout, setupTO: cfg.SetupTimeout,
	}
	if cfg.video() {
		r.env.video = &synth.VideoConfig{Bitrate: cfg.Bitrate, FPS: cfg.FPS, KeyframeInterval: cfg.KeyframeInterval}
	}
	for i := range cfg.Pairs {
		r.pairs = append(r.pairs, &callPair{
			a: &device{identity: fmt.Sprintf("lg-a-%d", i), side: "caller", rx: newReceiver(&r.gate, uint64(2*i)+1)},
			b: &device{identity: fmt.Sprintf("lg-b-%d", i), side: "callee", rx: newReceiver(&r.gate, uint64(2*i)+2)},
		})
	}
	r.setStage("starting")
	return r, nil
}

// launch starts one goroutine per pair at PairRate until all are started or
// ctx ends; each ends after life ends (or earlier on failure) and is counted
// in all.
func (r *callRun) launch(ctx, life context.Context, setup, all *sync.WaitGroup) {
	tick := time.NewTicker(time.Duration(float64(time.Second) / r.cfg.PairRate))
	defer tick.Stop()
	for i, p := range r.pairs {
		if i > 0 {
			select {
			case <-ctx.Done():
				for _, rest := range r.pairs[i:] {
					rest.setErr(errors.New("not started: run interrupted"))
				}
				return
			case <-tick.C:
			}
		}
		setup.Add(1)
		all.Add(1)
		go func() {
			defer all.Done()
			p.run(r.env, ctx, life, setup)
		}()
	}
}

// callWindow is what the run measured around the steady window.
type callWindow struct {
	length      time.Duration
	sent        uint64 // packets all devices wrote in the window
	cpu         cpuUse
	interrupted bool
}

// measure runs the steady window, reading the SFU's and our own CPU time
// just outside it.
func (r *callRun) measure(ctx context.Context, metricsURL string) callWindow {
	cpu := startCPUWindow(metricsURL)
	start := time.Now()
	sent0 := r.sent()
	r.gate.set(phaseSteady)
	r.setStage("steady")
	r.log.Info("steady window", "duration", r.cfg.Duration)
	completed := sleepCtx(ctx, r.cfg.Duration)
	r.gate.set(phaseDone)
	w := callWindow{length: time.Since(start), sent: r.sent() - sent0, interrupted: !completed}
	w.cpu = cpu.end()
	if w.cpu.sfu == nil {
		r.log.Warn("SFU CPU not measured", "err", w.cpu.sfuNote)
	}
	return w
}

// sent counts the packets every device has written; called after setup,
// when the senders no longer change.
func (r *callRun) sent() uint64 {
	var n uint64
	for _, p := range r.pairs {
		for _, d := range []*device{p.a, p.b} {
			if d.tx != nil {
				n += d.tx.sent.Load()
			}
		}
	}
	return n
}

// outcomes collects every call's state at the end of the window; called
// after setup.
func (r *callRun) outcomes() []callOutcome {
	outs := make([]callOutcome, 0, len(r.pairs))
	for _, p := range r.pairs {
		o := callOutcome{caller: p.a.identity, callee: p.b.identity, setupMs: -1}
		for _, d := range []*device{p.a, p.b} {
			if d.c != nil {
				o.joinMs = append(o.joinMs, ms(d.joinedAt.Sub(d.joinStart)))
			}
		}
		p.mu.Lock()
		o.callID, o.err = p.callID, p.err
		if !p.mediaAt.IsZero() {
			o.setupMs = ms(p.mediaAt.Sub(p.inviteAt))
		}
		p.mu.Unlock()
		o.connected = p.live()
		o.rx = [2]rxSnapshot{p.a.rx.snapshot(true), p.b.rx.snapshot(true)}
		outs = append(outs, o)
	}
	return outs
}

// progress prints a status line every ProgressInterval until ctx ends, then
// closes done. Its numbers are since each device received its first packet.
func (r *callRun) progress(ctx context.Context, done chan<- struct{}) {
	var rxs []*receiver
	for _, p := range r.pairs {
		rxs = append(rxs, p.a.rx, p.b.rx)
	}
	progressLoop(ctx, done, r.cfg.Progress, r.cfg.ProgressInterval, rxs,
		func(now time.Time, pps float64, expected, received uint64) string {
			return progressLine(now.Sub(r.began), r.stage.Load().(string),
				r.up.Load(), r.cfg.Pairs, pps, expected, received)
		})
}

func (r *callRun) setStage(s string) { r.stage.Store(s) }
