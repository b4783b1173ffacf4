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

// run is one execution of the live scenario and owns everything it starts.
type run struct {
	cfg     Config
	log     *slog.Logger
	gate    phaseGate
	viewers []*viewer
	env     *viewerEnv
	hostEnv hostConfig
	chat    *chatEnv  // nil without chatters
	chatEnd time.Time // when the window ended, for the chat drain

	connected atomic.Int64
	stage     atomic.Value // string, for progress lines
	began     time.Time
}

// Run executes the live scenario: viewers join at JoinRate, then the host
// publishes; once every viewer is connected (or ConnectTimeout passed) and
// Warmup has run, the steady window of Duration is measured. Cancelling ctx
// (Ctrl-C) ends the current phase early; the report then covers what was
// measured and says Interrupted. Run always returns within its timeouts.
//
// A configuration error returns no report. A host that cannot publish
// returns the report so far together with the error.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r, err := newRun(cfg)
	if err != nil {
		return nil, err
	}
	metricsURL, err := cfg.metricsURL()
	if err != nil {
		return nil, err
	}

	if warn := ChatRateWarning(cfg); warn != "" {
		r.log.Warn(warn)
	}
	if cfg.Progress != nil {
		defer startProgress(r.progress)()
	}

	// life ends at teardown, not at ctx: an interrupted run still closes its
	// viewers in order. connectCtx ends the wait for media connections.
	life, endLife := context.WithCancel(context.Background())
	defer endLife()
	connectCtx, stopConnecting := context.WithCancel(ctx)
	defer stopConnecting()
	var joined, connected, all sync.WaitGroup

	r.setStage("joining")
	r.launch(ctx, connectCtx, life, &joined, &connected, &all)
	joined.Wait() // each join is bounded by JoinTimeout

	var h *host
	var hostErr error
	if ctx.Err() == nil {
		r.setStage("host")
		h, hostErr = startHost(ctx, r.hostEnv)
		if hostErr != nil {
			r.log.Error("host failed", "err", hostErr)
		}
	}
	if h != nil {
		r.setStage("connecting")
		waitTimeout(ctx, &connected, cfg.ConnectTimeout)
		r.log.Info("viewers connected", "connected", r.connected.Load(), "viewers", cfg.Viewers)
	}
	stopConnecting()
	connected.Wait() // prompt now that connectCtx ended

	w := windowInfo{interrupted: ctx.Err() != nil}
	if h != nil {
		r.setStage("warmup")
		if sleepCtx(ctx, cfg.Warmup) {
			w = r.measure(ctx, h, metricsURL)
		}
		w.hostStart = h.startedAt
		if !w.interrupted && ctx.Err() == nil && !r.chatEnd.IsZero() {
			r.drainChat(ctx)
		}
		w.interrupted = w.interrupted || ctx.Err() != nil
	}
	r.gate.set(phaseDone)
	if r.chat != nil {
		w.chat = &chatWindow{start: r.chat.start, end: r.chatEnd, ledger: r.chat.ledger.snapshot()}
	}
	rep := summarise(cfg, r.outcomes(), w)

	r.setStage("teardown")
	endLife()
	var errs []error
	if h != nil {
		if err := h.stop(); err != nil {
			errs = append(errs, err)
		}
	}
	if !waitTimeout(context.Background(), &all, cfg.TeardownTimeout) {
		r.log.Warn("viewers still closing after the teardown timeout", "timeout", cfg.TeardownTimeout)
	}
	if hostErr != nil {
		return rep, hostErr
	}
	if len(errs) > 0 {
		r.log.Warn("teardown", "err", errors.Join(errs...))
	}
	return rep, nil
}

func newRun(cfg Config) (*run, error) {
	minter, err := auth.NewMinter(cfg.APIKey, cfg.APISecret)
	if err != nil {
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	// Tokens outlive any run; the SFU checks them only at join.
	ttl := time.Hour + cfg.Duration + cfg.Warmup
	mint := func(identity string, role auth.Role) (string, error) {
		tok, err := minter.Mint(auth.Grant{Identity: identity, Name: identity, Room: cfg.Room, Role: role}, ttl)
		if err != nil {
			return "", fmt.Errorf("loadgen: token for %s: %w", identity, err)
		}
		return tok, nil
	}
	plan, err := planNetwork(cfg.URL)
	if err != nil {
		return nil, err
	}
	hostPlan, err := planNetwork(cfg.HostURL)
	if err != nil {
		return nil, err
	}
	udp4 := []webrtc.NetworkType{webrtc.NetworkTypeUDP4}
	fullAPI, err := client.NewAPI(cfg.viewerAPIOptions(plan.loopback))
	if err != nil {
		return nil, fmt.Errorf("loadgen: viewer api: %w", err)
	}
	hostAPI, err := client.NewAPI(client.APIOptions{IncludeLoopback: hostPlan.loopback, NetworkTypes: udp4})
	if err != nil {
		return nil, fmt.Errorf("loadgen: host api: %w", err)
	}
	hostTok, err := mint(hostIdentity, auth.RoleHost)
	if err != nil {
		return nil, err
	}

	r := &run{cfg: cfg, log: cfg.Logger, began: time.Now()}
	r.env = &viewerEnv{
		url: cfg.URL, room: cfg.Room, fullAPI: fullAPI, plan: plan, reach: cfg.viewerClient,
		connected: &r.connected, joinTO: cfg.JoinTimeout, noGRO: cfg.NoViewerGRO,
		token: func(id string) (string, error) { return mint(id, auth.RoleViewer) },
	}
	r.hostEnv = hostConfig{
		url: cfg.HostURL, room: cfg.Room, token: hostTok, api: hostAPI,
		video: synth.VideoConfig{Bitrate: cfg.Bitrate, FPS: cfg.FPS, KeyframeInterval: cfg.KeyframeInterval},
	}
	if cfg.Chatters > 0 {
		r.chat = newChatEnv(cfg)
	}
	for i := range cfg.Viewers {
		v := &viewer{
			id: i, identity: fmt.Sprintf("viewer-%05d", i), full: i < cfg.FullViewers,
			rx: newReceiver(&r.gate, uint64(i)+1),
		}
		chatter, talks := spread(i, cfg.Chatters, cfg.Viewers)
		_, listens := spread(i, cfg.ChatReceivers, cfg.Viewers)
		if r.chat != nil && (talks || listens) {
			v.chat = newChatPeer(r.chat, v.identity, chatter, listens, uint64(i)+1)
		}
		r.viewers = append(r.viewers, v)
	}
	r.setStage("starting")
	return r, nil
}

// launch starts one goroutine per viewer at JoinRate until all are started
// or ctx ends; each goroutine ends at life's end (or earlier on failure)
// and is counted in all.
func (r *run) launch(ctx, connectCtx, life context.Context, joined, connected, all *sync.WaitGroup) {
	tick := time.NewTicker(time.Duration(float64(time.Second) / r.cfg.JoinRate))
	defer tick.Stop()
	for i, v := range r.viewers {
		if i > 0 {
			select {
			case <-ctx.Done():
				for _, rest := range r.viewers[i:] {
					rest.setErr(errors.New("not started: run interrupted"))
				}
				return
			case <-tick.C:
			}
		}
		joined.Add(1)
		connected.Add(1)
		all.Add(1)
		go func() {
			defer all.Done()
			v.run(r.env, ctx, connectCtx, life, joined, connected)
		}()
	}
}

// measure runs the steady window, reading the SFU's and our own CPU time
// just outside it.
func (r *run) measure(ctx context.Context, h *host, metricsURL string) windowInfo {
	cpu := startCPUWindow(metricsURL)
	start := time.Now()
	sent0 := h.sent.Load()
	r.gate.set(phaseSteady)
	if r.chat != nil {
		r.chat.begin(start)
	}
	r.setStage("steady")
	r.log.Info("steady window", "duration", r.cfg.Duration)
	completed := sleepCtx(ctx, r.cfg.Duration)
	r.gate.set(phaseDone)
	if r.chat != nil {
		r.chatEnd = time.Now()
		r.chat.end()
	}
	w := windowInfo{length: time.Since(start), hostSent: h.sent.Load() - sent0, interrupted: !completed}
	use := cpu.end()
	w.sfuCPU, w.sfuNote, w.loadgenCPU = use.sfu, use.sfuNote, use.self
	if use.sfu == nil {
		r.log.Warn("SFU CPU not measured", "err", use.sfuNote)
	}
	return w
}

// outcomes collects every viewer's state at the end of the window.
func (r *run) outcomes() []viewerOutcome {
	outs := make([]viewerOutcome, 0, len(r.viewers))
	for _, v := range r.viewers {
		v.mu.Lock()
		o := viewerOutcome{
			identity: v.identity, full: v.full, joined: v.c != nil,
			joinedAt: v.joinedAt, err: v.err,
		}
		if o.joined {
			o.joinMs = ms(v.joinedAt.Sub(v.joinStart))
		}
		v.mu.Unlock()
		o.connected = v.live()
		o.rx = v.rx.snapshot(true)
		if v.chat != nil {
			o.chat = v.chat.snapshot()
		}
		outs = append(outs, o)
	}
	return outs
}

func (r *run) setStage(s string) { r.stage.Store(s) }

// sleepCtx waits d; false if ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// waitTimeout waits for wg up to d or until ctx ends; it reports whether wg
// finished. The helper goroutine ends when wg does, which every caller
// guarantees by ending what wg counts.
func waitTimeout(ctx context.Context, wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}
