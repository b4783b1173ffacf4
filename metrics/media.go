package metrics

import "github.com/prometheus/client_golang/prometheus"

// MediaCounters are the cumulative forwarding counters of one media kind,
// including those of feeds already closed, so counters never go backwards.
type MediaCounters struct {
	Tracks           int // live feeds
	PacketsIn        uint64
	BytesIn          uint64
	PacketsOut       uint64
	BytesOut         uint64
	Malformed        uint64
	Late             uint64
	QueueDrops       uint64
	CacheMisses      uint64
	NACKsReceived    uint64
	Retransmits      uint64
	PLIsReceived     uint64
	KeyframeRequests uint64
}

// MediaSource reports the counters of audio and video feeds. It is called at
// scrape time only: the forwarding path keeps its own per-feed atomics and
// never touches a Prometheus metric.
type MediaSource func() (audio, video MediaCounters)

// mediaCollector folds the feeds' counters into metrics at scrape time.
type mediaCollector struct {
	src                                         MediaSource
	tracks, packets, bytes, dropped, retransmit *prometheus.Desc
	nacks, plis, keyframes                      *prometheus.Desc
}

// NewMediaCollector returns a collector reading src on every scrape.
func NewMediaCollector(src MediaSource) prometheus.Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, labels, nil)
	}
	return &mediaCollector{
		src:        src,
		tracks:     d("tracks", "Published tracks (feeds) being forwarded.", "kind"),
		packets:    d("packets_total", "RTP packets received from publishers (in) and sent to viewers (out).", "kind", "direction"),
		bytes:      d("bytes_total", "RTP bytes received from publishers (in, whole packets) and sent to viewers (out, payloads).", "kind", "direction"),
		dropped:    d("packets_dropped_total", "Packets not forwarded, by reason: queue_full (a slow worker), cache_miss, late, malformed.", "kind", "reason"),
		retransmit: d("retransmitted_packets_total", "Packets resent to viewers from the cache in answer to NACKs.", "kind"),
		nacks:      d("nacks_received_total", "Sequence numbers viewers asked for in NACKs.", "kind"),
		plis:       d("plis_received_total", "PLI and FIR requests received from viewers.", "kind"),
		keyframes:  d("keyframe_requests_total", "Keyframe requests (PLIs) sent to publishers, after coalescing.", "kind"),
	}
}

// Describe implements prometheus.Collector.
func (c *mediaCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.tracks, c.packets, c.bytes, c.dropped, c.retransmit, c.nacks, c.plis, c.keyframes} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *mediaCollector) Collect(ch chan<- prometheus.Metric) {
	audio, video := c.src()
	for _, k := range []struct {
		kind string
		m    MediaCounters
	}{{KindAudio, audio}, {KindVideo, video}} {
		counter := func(d *prometheus.Desc, v uint64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append([]string{k.kind}, labels...)...)
		}
		m := k.m
		ch <- prometheus.MustNewConstMetric(c.tracks, prometheus.GaugeValue, float64(m.Tracks), k.kind)
		counter(c.packets, m.PacketsIn, "in")
		counter(c.packets, m.PacketsOut, "out")
		counter(c.bytes, m.BytesIn, "in")
		counter(c.bytes, m.BytesOut, "out")
		counter(c.dropped, m.QueueDrops, "queue_full")
		counter(c.dropped, m.CacheMisses, "cache_miss")
		counter(c.dropped, m.Late, "late")
		counter(c.dropped, m.Malformed, "malformed")
		counter(c.retransmit, m.Retransmits)
		counter(c.nacks, m.NACKsReceived)
		counter(c.plis, m.PLIsReceived)
		counter(c.keyframes, m.KeyframeRequests)
	}
}
