package metrics

import "github.com/prometheus/client_golang/prometheus"

// Namespace prefixes every talkrelay metric.
const Namespace = "talkrelay"

// Media kinds: the only values of the kind label.
const (
	KindAudio = "audio"
	KindVideo = "video"
)

// SFU holds the metrics recorded as events happen (latencies, lives, chat,
// connections). Counters folded in from other state at scrape time live in the
// collectors (media.go, rooms.go). Every field is safe for concurrent use and
// costs one atomic operation to record: no lock, no allocation.
type SFU struct {
	// Media timing.
	forwardLatency *prometheus.HistogramVec
	FirstKeyframe  prometheus.Histogram
	// DownTracks counts viewers' down tracks by how they write SRTP: "direct"
	// (the SFU encrypts and batches itself) or "pion" (through pion's stack).
	DownTracks *prometheus.CounterVec

	// Signaling and connections.
	JoinLatency   prometheus.Histogram
	WebSockets    prometheus.Gauge
	DataChannels  prometheus.Gauge
	LivesStarted  prometheus.Counter
	LivesEnded    prometheus.Counter
	LiveDuration  prometheus.Histogram
	Engagement    prometheus.Histogram
	ChatReceived  prometheus.Counter
	ChatDelivered prometheus.Counter
	ChatDropped   prometheus.Counter
	ChatStore     prometheus.Histogram
	chatRejected  *prometheus.CounterVec
	callsEnded    *prometheus.CounterVec
	// CallSetup times a call from invite to answer.
	CallSetup prometheus.Histogram
	// CallDuration is answered calls' talk time.
	CallDuration prometheus.Histogram
}

// latencyBuckets span a packet's trip through the SFU: tens of microseconds to
// a quarter second.
var latencyBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25}

// NewSFU creates the event metrics and registers them with reg. A nil reg gives
// working, unregistered metrics: packages use that when no server wired them,
// so recording never needs a nil check.
func NewSFU(reg prometheus.Registerer) *SFU {
	s := &SFU{
		forwardLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "forwarding_latency_seconds",
			Help:    "Time from reading a packet from the publisher to writing it to the last viewer of its worker, once per packet group.",
			Buckets: latencyBuckets,
		}, []string{"kind"}),
		FirstKeyframe: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "first_keyframe_seconds",
			Help:    "Time from a video down track's activation to the first keyframe forwarded to it.",
			Buckets: []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2, 5},
		}),
		JoinLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "join_latency_seconds",
			Help:    "Time from a WebSocket join request to the joined answer.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		DownTracks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "down_tracks_total",
			Help: "Viewers' down tracks by SRTP write path at their first packet: direct or pion.",
		}, []string{"path"}),
		WebSockets: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "websocket_connections", Help: "Open signaling WebSocket connections.",
		}),
		DataChannels: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "data_channels", Help: "Open chat data channels.",
		}),
		LivesStarted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "lives_started_total", Help: "Live talks started.",
		}),
		LivesEnded: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "lives_ended_total", Help: "Live talks ended.",
		}),
		LiveDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "live_duration_seconds", Help: "Duration of ended live talks.",
			Buckets: []float64{10, 60, 300, 900, 1800, 3600, 7200, 14400},
		}),
		Engagement: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "live_engagement_ratio",
			Help:    "Distinct chatters divided by peak viewers, per ended live talk.",
			Buckets: []float64{.01, .02, .05, .1, .2, .3, .5, .75, 1},
		}),
		ChatReceived: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "chat_messages_received_total", Help: "Chat messages participants sent.",
		}),
		ChatDelivered: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "chat_messages_delivered_total", Help: "Chat messages delivered to recipients (one per recipient).",
		}),
		ChatDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "chat_messages_dropped_total", Help: "Chat messages skipped for recipients too slow to keep up (announced as gaps).",
		}),
		ChatStore: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "chat_store_latency_seconds", Help: "Time to store one chat message.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		chatRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "chat_messages_rejected_total", Help: "Chat messages refused, by reason (the chat error code).",
		}, []string{"reason"}),
		callsEnded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "calls_total", Help: "1:1 call invitations by outcome (accepted, declined, busy, no_answer, unavailable, cancelled), counted when they end.",
		}, []string{"reason"}),
		CallSetup: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "call_answer_seconds", Help: "Time from a call's invitation to its answer.",
			Buckets: []float64{.5, 1, 2, 3, 5, 8, 13, 20, 30, 60},
		}),
		CallDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "call_duration_seconds", Help: "Talk time of answered 1:1 calls.",
			Buckets: prometheus.ExponentialBuckets(5, 2, 12),
		}),
	}
	if reg != nil {
		reg.MustRegister(s.forwardLatency, s.FirstKeyframe, s.DownTracks, s.JoinLatency, s.WebSockets, s.DataChannels,
			s.LivesStarted, s.LivesEnded, s.LiveDuration, s.Engagement, s.ChatReceived, s.ChatDelivered,
			s.ChatDropped, s.ChatStore, s.chatRejected, s.callsEnded, s.CallSetup, s.CallDuration)
	}
	return s
}

// ForwardLatency is the forwarding latency histogram for one kind. Resolve it
// once per feed, never per packet.
func (s *SFU) ForwardLatency(kind string) prometheus.Observer {
	return s.forwardLatency.WithLabelValues(kind)
}

// ChatRejected counts a refused chat message. reason must come from the fixed
// set of chat error codes.
func (s *SFU) ChatRejected(reason string) {
	s.chatRejected.WithLabelValues(reason).Inc()
}

// CallEnded counts an ended call invitation. outcome must come from the fixed set
// of call outcomes.
func (s *SFU) CallEnded(outcome string) {
	s.callsEnded.WithLabelValues(outcome).Inc()
}
