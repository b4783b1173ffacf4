package loadgen

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
)

// GroupReport is the outcome of a group run. Its JSON form is what
// `loadgen group --json` prints; fields without data are null.
type GroupReport struct {
	Scenario  string `json:"scenario"`
	URL       string `json:"url"`
	Room      string `json:"room"`
	Speakers  int    `json:"speakers"`
	Listeners int    `json:"listeners"`
	// SpeakersConnected and ListenersConnected count members joined (and,
	// for speakers, publishing) whose media connection was up at the end of
	// the window; MembersFailed the others.
	SpeakersConnected  int  `json:"speakers_connected"`
	ListenersConnected int  `json:"listeners_connected"`
	MembersFailed      int  `json:"members_failed"`
	Interrupted        bool `json:"interrupted"`

	DurationS float64 `json:"duration_s"` // the steady window as measured
	WarmupS   float64 `json:"warmup_s"`

	// PacketsSent is what all speakers wrote in the window; the SFU forwards
	// each to the members who hear its speaker at the time.
	PacketsSent      uint64 `json:"packets_sent"`
	PacketsExpected  uint64 `json:"packets_expected"`
	PacketsReceived  uint64 `json:"packets_received"`
	PacketsLost      uint64 `json:"packets_lost"`
	PacketsDuplicate uint64 `json:"packets_duplicate"`
	PacketsLate      uint64 `json:"packets_late"`
	// LossRatio covers every stream every member received in the window,
	// loss counted from RTP sequence gaps (a speaker's stream paused while
	// it is not active continues without a gap).
	LossRatio    float64 `json:"loss_ratio"`
	DeliveredPPS float64 `json:"delivered_pps"`

	// StreamsPerListener and StreamsPerSpeaker are how many speakers a
	// member heard at once: every SampleInterval, the tracks that delivered
	// a packet within StreamWindow. The SFU forwards at most three; right
	// after a switch a sample may also count the speaker who just stopped.
	// MeanByRate is the mean from packet counts instead (an Opus stream
	// is 50 packets a second), which no window blurs.
	StreamsPerListener *StreamCounts `json:"streams_per_listener"`
	StreamsPerSpeaker  *StreamCounts `json:"streams_per_speaker"`
	SampleIntervalMs   float64       `json:"sample_interval_ms"`
	StreamWindowMs     float64       `json:"stream_window_ms"`
	// OwnVoice counts members that received their own voice: never, unless
	// the SFU is broken.
	OwnVoice int `json:"own_voice"`
	// ActiveSpeakerChangesPerS is how often a member was told the active
	// speakers changed, per second of the window (mean over members).
	ActiveSpeakerChangesPerS float64 `json:"active_speaker_changes_per_s"`

	SFUCPUSeconds     *float64 `json:"sfu_cpu_seconds"`
	SFUCPUUsPerPacket *float64 `json:"sfu_cpu_us_per_packet"`
	SFUCPUNote        string   `json:"sfu_cpu_note,omitempty"`
	LoadgenCPUSeconds float64  `json:"loadgen_cpu_seconds"`

	JoinMs        *Percentiles `json:"join_ms"`
	LatencyMs     *Percentiles `json:"latency_ms"`
	JitterAudioMs *Percentiles `json:"jitter_audio_ms"`

	Failures []Failure `json:"failures,omitempty"`
}

// StreamCounts summarises samples of concurrent streams.
type StreamCounts struct {
	P50        float64 `json:"p50"`
	P95        float64 `json:"p95"`
	Max        float64 `json:"max"`
	Mean       float64 `json:"mean"`
	N          int     `json:"n"`
	MeanByRate float64 `json:"mean_by_rate"`
}

// opusPacketsPerSecond is the packet rate of one synthetic voice (20 ms).
const opusPacketsPerSecond = 50

func streamCounts(samples []float64) *StreamCounts {
	p := percentiles(samples)
	if p == nil {
		return nil
	}
	sum := 0.0
	for _, v := range samples {
		sum += v
	}
	return &StreamCounts{P50: p.P50, P95: p.P95, Max: slices.Max(samples), Mean: sum / float64(len(samples)), N: p.N}
}

// groupOutcome is what the summary needs from one member.
type groupOutcome struct {
	identity       string
	speaker        bool
	connected      bool
	err            error
	joinMs         float64 // 0 if it never joined
	ownVoice       bool
	speakerChanges int64
	rx             rxSnapshot
}

// summariseGroup turns per-member outcomes into the report; a pure function
// of its inputs.
func summariseGroup(cfg GroupConfig, outs []groupOutcome, w groupWindow) *GroupReport {
	r := &GroupReport{
		Scenario: "group", URL: cfg.URL, Room: cfg.Room, Speakers: cfg.Speakers, Listeners: cfg.Listeners,
		Interrupted: w.interrupted, DurationS: w.length.Seconds(), WarmupS: cfg.Warmup.Seconds(),
		PacketsSent:        w.sent,
		StreamsPerListener: streamCounts(w.listenerStreams), StreamsPerSpeaker: streamCounts(w.speakerStreams),
		SampleIntervalMs: ms(cfg.SampleInterval), StreamWindowMs: ms(cfg.StreamWindow),
		SFUCPUSeconds: w.cpu.sfu, SFUCPUNote: w.cpu.sfuNote, LoadgenCPUSeconds: w.cpu.self.Seconds(),
	}
	var joins, latency, jitter []float64
	var changes int64
	var received [2]uint64 // by listeners, by speakers connected at the end
	reasons := map[string]int{}
	for _, o := range outs {
		if o.joinMs > 0 {
			joins = append(joins, o.joinMs)
		}
		switch {
		case o.connected && o.speaker:
			r.SpeakersConnected++
		case o.connected:
			r.ListenersConnected++
		case o.err != nil:
			reasons[o.err.Error()]++
		default:
			reasons["media connection down at the end of the window"]++
		}
		if o.ownVoice {
			r.OwnVoice++
		}
		if o.connected {
			changes += o.speakerChanges
			received[b2i(o.speaker)] += o.rx.received
		}
		r.PacketsExpected += o.rx.expected
		r.PacketsReceived += o.rx.received
		r.PacketsLost += o.rx.lost
		r.PacketsDuplicate += o.rx.dups
		r.PacketsLate += o.rx.late
		latency = append(latency, o.rx.latencyMs...)
		if o.rx.hasAudio {
			jitter = append(jitter, o.rx.jitterAudioMs)
		}
	}
	r.MembersFailed = cfg.Speakers + cfg.Listeners - r.SpeakersConnected - r.ListenersConnected
	r.Failures = failures(reasons)
	r.JoinMs, r.LatencyMs, r.JitterAudioMs = percentiles(joins), percentiles(latency), percentiles(jitter)
	if r.PacketsExpected > 0 {
		r.LossRatio = float64(r.PacketsLost) / float64(r.PacketsExpected)
	}
	if s := w.length.Seconds(); s > 0 {
		r.DeliveredPPS = float64(r.PacketsReceived) / s
		if n := r.SpeakersConnected + r.ListenersConnected; n > 0 {
			r.ActiveSpeakerChangesPerS = float64(changes) / float64(n) / s
		}
		if c := r.StreamsPerListener; c != nil && r.ListenersConnected > 0 {
			c.MeanByRate = float64(received[0]) / float64(r.ListenersConnected) / s / opusPacketsPerSecond
		}
		if c := r.StreamsPerSpeaker; c != nil && r.SpeakersConnected > 0 {
			c.MeanByRate = float64(received[1]) / float64(r.SpeakersConnected) / s / opusPacketsPerSecond
		}
	}
	if w.cpu.sfu != nil && r.PacketsReceived > 0 {
		us := *w.cpu.sfu * 1e6 / float64(r.PacketsReceived)
		r.SFUCPUUsPerPacket = &us
	}
	return r
}

// GroupThresholds say when a group run counts as broken (the CLI then exits
// 1). MaxLoss is disabled when negative, MaxStreams and MaxFailed when
// negative too.
type GroupThresholds struct {
	MaxLoss    float64 // loss ratio, 0..1
	MaxStreams int     // the most speakers any member may hear at once
	MaxFailed  int     // members not connected at the end of the window
}

// NoGroupThresholds disables every check.
func NoGroupThresholds() GroupThresholds {
	return GroupThresholds{MaxLoss: -1, MaxStreams: -1, MaxFailed: -1}
}

// Check returns one message per violated threshold, empty when the run
// passes. A threshold on a figure that was not measured fails.
func (t GroupThresholds) Check(r *GroupReport) []string {
	var bad []string
	if t.MaxLoss >= 0 && r.PacketsExpected == 0 {
		bad = append(bad, "loss not measured: no packets expected in the window")
	} else if t.MaxLoss >= 0 && r.LossRatio > t.MaxLoss {
		bad = append(bad, fmt.Sprintf("loss ratio %.5f > max %.5f", r.LossRatio, t.MaxLoss))
	}
	if t.MaxStreams >= 0 {
		for _, s := range []struct {
			who string
			c   *StreamCounts
		}{{"listener", r.StreamsPerListener}, {"speaker", r.StreamsPerSpeaker}} {
			if s.c != nil && s.c.Max > float64(t.MaxStreams) {
				bad = append(bad, fmt.Sprintf("a %s heard %.0f streams at once > max %d", s.who, s.c.Max, t.MaxStreams))
			}
		}
		if r.StreamsPerListener == nil && r.StreamsPerSpeaker == nil {
			bad = append(bad, "streams per member not measured")
		}
	}
	if t.MaxFailed >= 0 && r.MembersFailed > t.MaxFailed {
		bad = append(bad, fmt.Sprintf("members failed %d > max %d", r.MembersFailed, t.MaxFailed))
	}
	return bad
}

// WriteGroupTable writes the report for people.
func WriteGroupTable(w io.Writer, r *GroupReport) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, args...)...) }
	title := "group scenario"
	if r.Interrupted {
		title += " (interrupted)"
	}
	row(title, "%d speakers and %d listeners in %q at %s", r.Speakers, r.Listeners, r.Room, r.URL)
	row("members", "%d speakers and %d listeners connected, %d failed", r.SpeakersConnected, r.ListenersConnected, r.MembersFailed)
	row("window", "%.1f s steady after %.1f s warmup", r.DurationS, r.WarmupS)
	row("delivered", "%.0f packets/s (%d received of %d expected; %d sent)", r.DeliveredPPS, r.PacketsReceived, r.PacketsExpected, r.PacketsSent)
	row("loss", "%.4f%% (%d lost, %d duplicate, %d late)", r.LossRatio*100, r.PacketsLost, r.PacketsDuplicate, r.PacketsLate)
	counts := func(c *StreamCounts) string {
		if c == nil {
			return "-"
		}
		return fmt.Sprintf("p50 %.0f, p95 %.0f, max %.0f, mean %.2f (%d samples); mean by packet rate %.2f", c.P50, c.P95, c.Max, c.Mean, c.N, c.MeanByRate)
	}
	row("streams/listener", "%s", counts(r.StreamsPerListener))
	row("streams/speaker", "%s", counts(r.StreamsPerSpeaker))
	row("own voice", "%d members", r.OwnVoice)
	row("speaker changes", "%.2f per second per member", r.ActiveSpeakerChangesPerS)
	row("SFU CPU", "%s", sfuCPU(r.SFUCPUUsPerPacket, r.SFUCPUSeconds, r.SFUCPUNote))
	row("loadgen CPU", "%.2f s", r.LoadgenCPUSeconds)
	row("", "p50\tp95\tp99\tn")
	dist := func(name string, p *Percentiles) {
		if p == nil {
			row(name, "-\t-\t-\t0")
			return
		}
		row(name, "%.1f\t%.1f\t%.1f\t%d", p.P50, p.P95, p.P99, p.N)
	}
	dist("join ms", r.JoinMs)
	dist("latency ms", r.LatencyMs)
	dist("jitter ms audio", r.JitterAudioMs)
	for _, f := range r.Failures {
		row("failed", "%d× %s", f.Count, f.Reason)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("loadgen: write table: %w", err)
	}
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
