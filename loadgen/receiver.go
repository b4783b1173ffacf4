package loadgen

import (
	"cmp"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// maxStreams bounds the SSRCs one viewer tracks: a viewer sees one audio
	// and one video track, plus a new SSRC after a codec change.
	maxStreams = 8
	// latencySamples bounds each full viewer's latency reservoir.
	latencySamples = 8192

	audioClockRate = 48000
	videoClockRate = 90000
)

// phase is where a run stands, as the receivers need to know it.
type phase int32

const (
	phaseSettling phase = iota // connecting and warming up: tracked, not in the window
	phaseSteady                // the measuring window
	phaseDone                  // after the window: packets are ignored
)

// phaseGate shares the run's phase with every receiver without a lock on
// the packet path.
type phaseGate struct{ p atomic.Int32 }

func (g *phaseGate) get() phase  { return phase(g.p.Load()) }
func (g *phaseGate) set(p phase) { g.p.Store(int32(p)) }

// packetInfo is what a receiver learns about one RTP packet.
type packetInfo struct {
	ssrc   uint32
	seq    uint16
	ts     uint32
	video  bool
	at     time.Time
	key    bool  // the synth stamp says keyframe (full viewers only)
	sentAt int64 // synth stamp send time, Unix ns; 0 if unknown
}

// stream is one SSRC's receive statistics.
type stream struct {
	ssrc   uint32
	video  bool
	seq    seqTracker
	total  span // since the first packet
	window span // in the measuring window
	jit    jitter
}

// receiver accumulates one viewer's statistics. Packets come from one
// goroutine per track (full viewers) or the socket reader (light viewers);
// the run reads snapshots; a mutex keeps both apart.
type receiver struct {
	gate *phaseGate
	// open gates light viewers: their socket may see RTP before pion reports
	// the connection up, and only connected viewers are counted.
	open atomic.Bool

	// streamLimit bounds the SSRCs tracked (0: maxStreams); a group room
	// member receives one stream per other speaker.
	streamLimit int

	mu         sync.Mutex
	streams    []*stream
	first      time.Time // the first packet of any kind
	firstVideo time.Time
	firstKey   time.Time
	latency    reservoir
}

func newReceiver(gate *phaseGate, seed uint64) *receiver {
	return &receiver{gate: gate, latency: newReservoir(latencySamples, seed)}
}

// onPacket records one packet.
func (r *receiver) onPacket(p packetInfo) {
	ph := r.gate.get()
	if ph == phaseDone {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stream(p.ssrc, p.video)
	if s == nil {
		return
	}
	ext, fresh := s.seq.push(p.seq)
	if !fresh {
		return
	}
	s.jit.push(p.at, p.ts)
	s.total.add(ext)
	if r.first.IsZero() {
		r.first = p.at
	}
	if ph == phaseSteady {
		s.window.add(ext)
		if p.sentAt > 0 {
			r.latency.add(float64(max(p.at.UnixNano()-p.sentAt, 0)) / 1e6)
		}
	}
	if p.video {
		if r.firstVideo.IsZero() {
			r.firstVideo = p.at
		}
		if p.key && r.firstKey.IsZero() {
			r.firstKey = p.at
		}
	}
}

// stream finds or adds the stream for ssrc; nil once maxStreams are taken.
func (r *receiver) stream(ssrc uint32, video bool) *stream {
	for _, s := range r.streams {
		if s.ssrc == ssrc {
			return s
		}
	}
	if limit := cmp.Or(r.streamLimit, maxStreams); len(r.streams) >= limit {
		return nil
	}
	rate := audioClockRate
	if video {
		rate = videoClockRate
	}
	s := &stream{ssrc: ssrc, video: video, jit: newJitter(rate)}
	r.streams = append(r.streams, s)
	return s
}

// rxSnapshot is a copy of a receiver's statistics.
type rxSnapshot struct {
	// window counts: distinct packets received, expected from the sequence
	// span, duplicates and packets too late for the reorder window.
	expected, received, lost, dups, late uint64
	// since the first packet, for progress lines
	totalExpected, totalReceived uint64
	// latest RFC 3550 jitter per kind; has* false when no such stream
	jitterAudioMs, jitterVideoMs float64
	hasAudio, hasVideo           bool
	first, firstVideo, firstKey  time.Time
	latencyMs                    []float64
}

// snapshot copies the statistics; withSamples also copies the latency
// samples, which progress lines do not need.
func (r *receiver) snapshot(withSamples bool) rxSnapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s rxSnapshot
	for _, st := range r.streams {
		s.expected += st.window.expected()
		s.received += st.window.received
		s.lost += st.window.lost()
		s.dups += st.seq.dups
		s.late += st.seq.late
		s.totalExpected += st.total.expected()
		s.totalReceived += st.total.received
		if st.video {
			s.jitterVideoMs, s.hasVideo = max(s.jitterVideoMs, st.jit.ms()), true
		} else {
			s.jitterAudioMs, s.hasAudio = max(s.jitterAudioMs, st.jit.ms()), true
		}
	}
	s.first, s.firstVideo, s.firstKey = r.first, r.firstVideo, r.firstKey
	if withSamples {
		s.latencyMs = append([]float64(nil), r.latency.vals...)
	}
	return s
}
