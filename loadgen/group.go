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
)

// ErrNoMembers is returned (wrapped) by RunGroup when no member was
// connected at the end of the window: nothing was measured.
var ErrNoMembers = errors.New("loadgen: no group member connected")

// groupRun is one execution of the group scenario and owns everything it
// starts.
type groupRun struct {
	cfg     GroupConfig
	log     *slog.Logger
	gate    phaseGate
	env     *groupEnv
	members []*groupMember // speakers first

	connected atomic.Int64
	stage     atomic.Value // string, for progress lines
	began     time.Time
}

// RunGroup executes the group scenario: Speakers and then Listeners join
// one group voice room at JoinRate; speakers publish Opus whose loudness
// follows a plan (different per speaker, varying, one speaker at a time
// talking over the others). Once every member is connected (or failed)
// and Warmup has run, the steady window of Duration is measured: loss, and
// every SampleInterval how many speakers each member hears at once. Then
// everyone leaves. Cancelling ctx ends the current phase early and the
// report says Interrupted.
//
// A configuration error returns no report; a run in which no member was
// connected at the end returns the report together with ErrNoMembers.
func RunGroup(ctx context.Context, cfg GroupConfig) (*GroupReport, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	metricsURL, err := metricsURLFor(cfg.URL, cfg.MetricsURL)
	if err != nil {
		return nil, err
	}
	r, err := newGroupRun(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Progress != nil {
		defer startProgress(r.progress)()
	}

	// life ends at teardown, not at ctx: an interrupted run still closes
	// its members in order.
	life, endLife := context.WithCancel(context.Background())
	defer endLife()
	connectCtx, stopConnecting := context.WithTimeout(ctx, cfg.ConnectTimeout+time.Duration(float64(len(r.members))/cfg.JoinRate*float64(time.Second)))
	defer stopConnecting()
	var joined, connected, all sync.WaitGroup
	r.setStage("joining")
	r.launch(ctx, connectCtx, life, &joined, &connected, &all)
	joined.Wait()
	r.setStage("connecting")
	connected.Wait()
	r.log.Info("members set up", "connected", r.connected.Load(), "members", len(r.members))

	w := groupWindow{interrupted: ctx.Err() != nil}
	if r.connected.Load() > 0 && !w.interrupted {
		r.setStage("warmup")
		if sleepCtx(ctx, cfg.Warmup) {
			w = r.measure(ctx, metricsURL)
		}
		w.interrupted = w.interrupted || ctx.Err() != nil
	}
	r.gate.set(phaseDone)
	rep := summariseGroup(cfg, r.outcomes(), w)

	r.setStage("leaving")
	endLife()
	if !waitTimeout(context.Background(), &all, cfg.TeardownTimeout) {
		r.log.Warn("members still closing after the teardown timeout", "timeout", cfg.TeardownTimeout)
	}
	if rep.SpeakersConnected+rep.ListenersConnected == 0 && !rep.Interrupted {
		return rep, ErrNoMembers
	}
	return rep, nil
}

func newGroupRun(cfg GroupConfig) (*groupRun, error) {
	minter, err := auth.NewMinter(cfg.APIKey, cfg.APISecret)
	if err != nil {
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	ttl := time.Hour + cfg.Duration + cfg.Warmup
	token := func(identity string, host bool) (string, error) {
		role := auth.RoleViewer
		if host {
			role = auth.RoleHost // the first speaker moderates
		}
		tok, err := minter.Mint(auth.Grant{Identity: identity, Name: identity, Room: cfg.Room, Role: role, RoomType: auth.RoomTypeGroup}, ttl)
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
		return nil, fmt.Errorf("loadgen: member api: %w", err)
	}
	r := &groupRun{cfg: cfg, log: cfg.Logger, began: time.Now()}
	r.env = &groupEnv{
		url: cfg.URL, room: cfg.Room, token: token, api: api, gate: &r.gate,
		plan:   &loudnessPlan{start: time.Now(), speakers: cfg.Speakers, turn: cfg.TurnInterval},
		joinTO: cfg.JoinTimeout, connected: &r.connected,
	}
	for i := range cfg.Speakers + cfg.Listeners {
		identity, speaker := fmt.Sprintf("lg-s-%d", i), i
		if i >= cfg.Speakers {
			identity, speaker = fmt.Sprintf("lg-l-%d", i-cfg.Speakers), -1
		}
		rx := newReceiver(&r.gate, uint64(i)+1)
		rx.streamLimit = cfg.Speakers + 2 // one per other speaker, and room for a speaker's new stream
		r.members = append(r.members, newGroupMember(identity, speaker, rx))
	}
	r.setStage("starting")
	return r, nil
}

// launch starts one goroutine per member at JoinRate until all are started
// or ctx ends; each ends after life ends (or earlier on failure).
func (r *groupRun) launch(ctx, connectCtx, life context.Context, joined, connected, all *sync.WaitGroup) {
	tick := time.NewTicker(time.Duration(float64(time.Second) / r.cfg.JoinRate))
	defer tick.Stop()
	for i, m := range r.members {
		if i > 0 {
			select {
			case <-ctx.Done():
				for _, rest := range r.members[i:] {
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
			m.run(r.env, ctx, connectCtx, life, joined, connected)
		}()
	}
}

// groupWindow is what the run measured around the steady window.
type groupWindow struct {
	length      time.Duration
	sent        uint64
	cpu         cpuUse
	interrupted bool
	// Concurrent streams each member received, sampled every
	// SampleInterval, listeners' and speakers' apart.
	listenerStreams, speakerStreams []float64
}

// measure runs the steady window, sampling every member's concurrent
// streams, with the SFU's and our own CPU time read just outside it.
func (r *groupRun) measure(ctx context.Context, metricsURL string) groupWindow {
	cpu := startCPUWindow(metricsURL)
	start := time.Now()
	sent0 := r.sent()
	r.gate.set(phaseSteady)
	r.setStage("steady")
	r.log.Info("steady window", "duration", r.cfg.Duration)
	var w groupWindow
	tick := time.NewTicker(r.cfg.SampleInterval)
	defer tick.Stop()
	end := time.NewTimer(r.cfg.Duration)
	defer end.Stop()
	completed := false
sampling:
	for {
		select {
		case <-ctx.Done():
			break sampling
		case <-end.C:
			completed = true
			break sampling
		case now := <-tick.C:
			for _, m := range r.members {
				if !m.live() {
					continue
				}
				n := float64(m.streams(now, r.cfg.StreamWindow))
				if m.speaker < 0 {
					w.listenerStreams = append(w.listenerStreams, n)
				} else {
					w.speakerStreams = append(w.speakerStreams, n)
				}
			}
		}
	}
	r.gate.set(phaseDone)
	w.length, w.sent, w.interrupted = time.Since(start), r.sent()-sent0, !completed
	w.cpu = cpu.end()
	if w.cpu.sfu == nil {
		r.log.Warn("SFU CPU not measured", "err", w.cpu.sfuNote)
	}
	return w
}

// sent counts the packets every speaker has written; called after setup.
func (r *groupRun) sent() uint64 {
	var n uint64
	for _, m := range r.members {
		if m.voice != nil {
			n += m.voice.sent.Load()
		}
	}
	return n
}

// outcomes collects every member's state at the end of the window.
func (r *groupRun) outcomes() []groupOutcome {
	outs := make([]groupOutcome, 0, len(r.members))
	for _, m := range r.members {
		o := groupOutcome{identity: m.identity, speaker: m.speaker >= 0, connected: m.live(), err: m.failure(),
			ownVoice: m.ownVoice.Load(), speakerChanges: m.speakerChanges.Load(), rx: m.rx.snapshot(true)}
		if m.c != nil {
			o.joinMs = ms(m.joinedAt.Sub(m.joinStart))
		}
		outs = append(outs, o)
	}
	return outs
}

// progress prints a status line every ProgressInterval until ctx ends.
func (r *groupRun) progress(ctx context.Context, done chan<- struct{}) {
	rxs := make([]*receiver, len(r.members))
	for i, m := range r.members {
		rxs[i] = m.rx
	}
	progressLoop(ctx, done, r.cfg.Progress, r.cfg.ProgressInterval, rxs,
		func(now time.Time, pps float64, expected, received uint64) string {
			return progressLine(now.Sub(r.began), r.stage.Load().(string),
				r.connected.Load(), len(r.members), pps, expected, received)
		})
}

func (r *groupRun) setStage(s string) { r.stage.Store(s) }
