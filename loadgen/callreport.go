package loadgen

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
)

// CallReport is the outcome of a call run. Its JSON form is what `loadgen
// call --json` prints; fields without data are null rather than zero.
type CallReport struct {
	Scenario string `json:"scenario"`
	URL      string `json:"url"`
	Pairs    int    `json:"pairs"`
	Mode     string `json:"mode"`
	// CallsConnected counts calls set up (media flowing both ways) and still
	// up at the end of the window; the others failed to connect, ring,
	// answer or get media through, or ended or dropped early.
	CallsConnected int  `json:"calls_connected"`
	CallsFailed    int  `json:"calls_failed"`
	Interrupted    bool `json:"interrupted"`

	DurationS float64 `json:"duration_s"` // the steady window as measured
	WarmupS   float64 `json:"warmup_s"`
	Bitrate   int     `json:"bitrate"` // video bits/s per side; 0 for voice
	FPS       int     `json:"fps"`     // 0 for voice

	// PacketsSent is what all devices wrote in the window; each packet is
	// expected once, at the other side of its call.
	PacketsSent      uint64 `json:"packets_sent"`
	PacketsExpected  uint64 `json:"packets_expected"`
	PacketsReceived  uint64 `json:"packets_received"`
	PacketsLost      uint64 `json:"packets_lost"`
	PacketsDuplicate uint64 `json:"packets_duplicate"`
	PacketsLate      uint64 `json:"packets_late"`
	// LossRatio and DeliveredPPS cover every stream received in the window,
	// loss counted from RTP sequence gaps.
	LossRatio    float64 `json:"loss_ratio"`
	DeliveredPPS float64 `json:"delivered_pps"`

	SFUCPUSeconds     *float64 `json:"sfu_cpu_seconds"`
	SFUCPUUsPerPacket *float64 `json:"sfu_cpu_us_per_packet"`
	SFUCPUNote        string   `json:"sfu_cpu_note,omitempty"`
	LoadgenCPUSeconds float64  `json:"loadgen_cpu_seconds"`

	// CallSetupMs is from sending the invite to both sides having received
	// their first media packet from the other, over the calls set up.
	CallSetupMs   *Percentiles `json:"call_setup_ms"`
	JoinMs        *Percentiles `json:"join_ms"` // each device's connection
	LatencyMs     *Percentiles `json:"latency_ms"`
	JitterAudioMs *Percentiles `json:"jitter_audio_ms"`
	JitterVideoMs *Percentiles `json:"jitter_video_ms"`

	// Failures lists distinct call failure reasons with their counts.
	Failures []Failure `json:"failures,omitempty"`
	// PerCall has one row per call, for --csv.
	PerCall []CallResult `json:"-"`
}

// CallResult is one call's measurements over the window, both sides
// together.
type CallResult struct {
	Caller, Callee string
	CallID         string
	Connected      bool    // up at the end of the window
	SetupMs        float64 // negative when media never flowed both ways
	// Expected, Received and Lost add up the streams both sides received.
	Expected, Received, Lost uint64
	LossRatio                float64
	LatencyP50Ms             float64
	Err                      string
}

// callOutcome is what the summary needs from one call.
type callOutcome struct {
	caller, callee string
	callID         string
	joinMs         []float64 // devices that connected
	setupMs        float64   // negative if never set up
	connected      bool
	err            error
	rx             [2]rxSnapshot // at the caller and at the callee
}

// summariseCall turns per-call outcomes into the report. It is a pure
// function of its inputs.
func summariseCall(cfg CallConfig, outs []callOutcome, w callWindow) *CallReport {
	r := &CallReport{
		Scenario: "call", URL: cfg.URL, Pairs: cfg.Pairs, Mode: cfg.Mode,
		Interrupted: w.interrupted, DurationS: w.length.Seconds(), WarmupS: cfg.Warmup.Seconds(),
		PacketsSent:   w.sent,
		SFUCPUSeconds: w.cpu.sfu, SFUCPUNote: w.cpu.sfuNote, LoadgenCPUSeconds: w.cpu.self.Seconds(),
	}
	if cfg.video() {
		r.Bitrate, r.FPS = cfg.Bitrate, cfg.FPS
	}
	var setups, joins, latency, jitAudio, jitVideo []float64
	reasons := map[string]int{}
	for _, o := range outs {
		c := CallResult{Caller: o.caller, Callee: o.callee, CallID: o.callID, Connected: o.connected, SetupMs: o.setupMs}
		joins = append(joins, o.joinMs...)
		if o.setupMs >= 0 {
			setups = append(setups, o.setupMs)
		}
		var callLatency []float64
		for _, rx := range o.rx {
			c.Expected += rx.expected
			c.Received += rx.received
			c.Lost += rx.lost
			r.PacketsDuplicate += rx.dups
			r.PacketsLate += rx.late
			callLatency = append(callLatency, rx.latencyMs...)
			if rx.hasAudio {
				jitAudio = append(jitAudio, rx.jitterAudioMs)
			}
			if rx.hasVideo {
				jitVideo = append(jitVideo, rx.jitterVideoMs)
			}
		}
		latency = append(latency, callLatency...)
		if p := percentiles(callLatency); p != nil {
			c.LatencyP50Ms = p.P50
		}
		if c.Expected > 0 {
			c.LossRatio = float64(c.Lost) / float64(c.Expected)
		}
		r.PacketsExpected += c.Expected
		r.PacketsReceived += c.Received
		r.PacketsLost += c.Lost
		switch {
		case o.err != nil:
			c.Err = o.err.Error()
		case !o.connected:
			c.Err = "media connection down at the end of the window"
		}
		if o.connected {
			r.CallsConnected++
		} else {
			reasons[c.Err]++
		}
		r.PerCall = append(r.PerCall, c)
	}
	r.CallsFailed = r.Pairs - r.CallsConnected
	r.Failures = failures(reasons)
	r.CallSetupMs, r.JoinMs, r.LatencyMs = percentiles(setups), percentiles(joins), percentiles(latency)
	r.JitterAudioMs, r.JitterVideoMs = percentiles(jitAudio), percentiles(jitVideo)
	if r.PacketsExpected > 0 {
		r.LossRatio = float64(r.PacketsLost) / float64(r.PacketsExpected)
	}
	if s := w.length.Seconds(); s > 0 {
		r.DeliveredPPS = float64(r.PacketsReceived) / s
	}
	if w.cpu.sfu != nil && r.PacketsReceived > 0 {
		us := *w.cpu.sfu * 1e6 / float64(r.PacketsReceived)
		r.SFUCPUUsPerPacket = &us
	}
	return r
}

// WriteCallTable writes the report for people.
func WriteCallTable(w io.Writer, r *CallReport) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, args...)...) }
	title := "call scenario"
	if r.Interrupted {
		title += " (interrupted)"
	}
	row(title, "%d %s calls at %s", r.Pairs, r.Mode, r.URL)
	row("calls", "%d connected, %d failed", r.CallsConnected, r.CallsFailed)
	media := "audio"
	if r.Mode == ModeVideo {
		media = fmt.Sprintf("audio and video %s at %d fps", FormatBitrate(r.Bitrate), r.FPS)
	}
	row("window", "%.1f s steady after %.1f s warmup; %s each way", r.DurationS, r.WarmupS, media)
	row("delivered", "%.0f packets/s (%d received of %d expected; %d sent)", r.DeliveredPPS, r.PacketsReceived, r.PacketsExpected, r.PacketsSent)
	row("loss", "%.4f%% (%d lost, %d duplicate, %d late)", r.LossRatio*100, r.PacketsLost, r.PacketsDuplicate, r.PacketsLate)
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
	dist("call setup ms", r.CallSetupMs)
	dist("join ms", r.JoinMs)
	dist("latency ms", r.LatencyMs)
	dist("jitter ms audio", r.JitterAudioMs)
	dist("jitter ms video", r.JitterVideoMs)
	for _, f := range r.Failures {
		row("failed", "%d× %s", f.Count, f.Reason)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("loadgen: write table: %w", err)
	}
	return nil
}

// WriteCallCSV writes one row per call.
func WriteCallCSV(w io.Writer, rows []CallResult) error {
	cw := csv.NewWriter(w)
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	_ = cw.Write([]string{"caller", "callee", "call_id", "connected", "setup_ms",
		"expected", "received", "lost", "loss_ratio", "latency_p50_ms", "error"})
	for _, c := range rows {
		setup := ""
		if c.SetupMs >= 0 {
			setup = f(c.SetupMs)
		}
		_ = cw.Write([]string{c.Caller, c.Callee, c.CallID, strconv.FormatBool(c.Connected), setup,
			u(c.Expected), u(c.Received), u(c.Lost), strconv.FormatFloat(c.LossRatio, 'g', 6, 64),
			f(c.LatencyP50Ms), c.Err})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("loadgen: write csv: %w", err)
	}
	return nil
}
