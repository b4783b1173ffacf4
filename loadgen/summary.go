package loadgen

import (
	"cmp"
	"slices"
	"time"
)

// maxFailureReasons bounds the distinct failure reasons a report lists.
const maxFailureReasons = 10

// viewerOutcome is what the summary needs from one viewer.
type viewerOutcome struct {
	identity  string
	full      bool
	joined    bool
	joinMs    float64
	joinedAt  time.Time
	connected bool
	err       error
	rx        rxSnapshot
	chat      *chatOutcome // nil for viewers without a part in chat
}

// windowInfo is what the run measured around the steady window.
type windowInfo struct {
	length      time.Duration
	hostStart   time.Time // the host's first packet; zero if it never sent
	hostSent    uint64    // in the window
	sfuCPU      *float64  // seconds the SFU spent in the window; nil if unknown
	sfuNote     string
	loadgenCPU  time.Duration
	interrupted bool
	chat        *chatWindow // nil without chatters
}

// summarise turns per-viewer outcomes into the report. It is a pure
// function of its inputs, so the arithmetic is tested without an SFU.
func summarise(cfg Config, outs []viewerOutcome, w windowInfo) *Report {
	r := &Report{
		Scenario: "live", Room: cfg.Room, URL: cfg.URL, Path: cfg.path(), ViewerGRO: !cfg.NoViewerGRO,
		Viewers: cfg.Viewers, FullViewers: cfg.FullViewers, LightViewers: cfg.Viewers - cfg.FullViewers,
		Interrupted: w.interrupted, DurationS: w.length.Seconds(), WarmupS: cfg.Warmup.Seconds(),
		Bitrate: cfg.Bitrate, FPS: cfg.FPS, HostPacketsSent: w.hostSent,
		FirstKeyframeNote: firstKeyframeNote,
		Chatters:          cfg.Chatters, ChatRate: cfg.ChatRate,
		SFUCPUSeconds: w.sfuCPU, SFUCPUNote: w.sfuNote, LoadgenCPUSeconds: w.loadgenCPU.Seconds(),
	}
	var joins, keys, latency, jitAll, jitAudio, jitVideo []float64
	reasons := map[string]int{}
	for _, o := range outs {
		v := viewerResult(o, w.hostStart)
		r.PerViewer = append(r.PerViewer, v)
		if o.connected {
			r.ViewersConnected++
		} else {
			reasons[v.Err]++
		}
		if o.joined {
			joins = append(joins, o.joinMs)
		}
		if v.FirstKeyframeMs >= 0 {
			keys = append(keys, v.FirstKeyframeMs)
		}
		latency = append(latency, o.rx.latencyMs...)
		if o.rx.hasAudio {
			jitAudio = append(jitAudio, o.rx.jitterAudioMs)
			jitAll = append(jitAll, o.rx.jitterAudioMs)
		}
		if o.rx.hasVideo {
			jitVideo = append(jitVideo, o.rx.jitterVideoMs)
			jitAll = append(jitAll, o.rx.jitterVideoMs)
		}
		r.PacketsExpected += o.rx.expected
		r.PacketsReceived += o.rx.received
		r.PacketsLost += o.rx.lost
		r.PacketsDuplicate += o.rx.dups
		r.PacketsLate += o.rx.late
	}
	r.ViewersFailed = r.Viewers - r.ViewersConnected
	r.Failures = failures(reasons)
	r.JoinMs, r.FirstKeyframeMs, r.LatencyMs = percentiles(joins), percentiles(keys), percentiles(latency)
	r.JitterMs, r.JitterAudioMs, r.JitterVideoMs = percentiles(jitAll), percentiles(jitAudio), percentiles(jitVideo)
	if r.PacketsExpected > 0 {
		r.LossRatio = float64(r.PacketsLost) / float64(r.PacketsExpected)
	}
	if s := w.length.Seconds(); s > 0 {
		r.DeliveredPPS = float64(r.PacketsReceived) / s
	}
	if w.sfuCPU != nil && r.PacketsReceived > 0 {
		us := *w.sfuCPU * 1e6 / float64(r.PacketsReceived)
		r.SFUCPUUsPerPacket = &us
	}
	summariseChat(r, cfg, outs, w.chat)
	return r
}

func viewerResult(o viewerOutcome, hostStart time.Time) ViewerResult {
	v := ViewerResult{
		Identity: o.identity, Full: o.full, Joined: o.joined, Connected: o.connected, JoinMs: o.joinMs,
		FirstKeyframeMs: -1,
		Expected:        o.rx.expected, Received: o.rx.received, Lost: o.rx.lost,
		Duplicates: o.rx.dups, Late: o.rx.late,
		JitterAudioMs: o.rx.jitterAudioMs, JitterVideoMs: o.rx.jitterVideoMs,
	}
	first := o.rx.firstVideo
	if o.full {
		first = o.rx.firstKey
	}
	if !first.IsZero() && o.joined && !hostStart.IsZero() {
		ref := o.joinedAt
		if hostStart.After(ref) {
			ref = hostStart
		}
		v.FirstKeyframeMs = max(ms(first.Sub(ref)), 0)
	}
	if v.Expected > 0 {
		v.LossRatio = float64(v.Lost) / float64(v.Expected)
	}
	if p := percentiles(o.rx.latencyMs); p != nil {
		v.LatencyP50Ms = p.P50
	}
	v.ChatReceived = -1
	if c := o.chat; c != nil && c.receiver && !c.readyAt.IsZero() {
		v.ChatReceived = c.got.count()
		if p := percentiles(c.latencyMs); p != nil {
			v.ChatLatencyP50Ms = p.P50
		}
	}
	switch {
	case o.err != nil:
		v.Err = o.err.Error()
	case !o.connected:
		v.Err = "media connection down at the end of the window"
	}
	return v
}

// failures lists reasons by count, most common first, bounded.
func failures(reasons map[string]int) []Failure {
	var fs []Failure
	for r, n := range reasons {
		fs = append(fs, Failure{Reason: r, Count: n})
	}
	slices.SortFunc(fs, func(a, b Failure) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Reason, b.Reason))
	})
	return fs[:min(len(fs), maxFailureReasons)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
