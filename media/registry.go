package media

import (
	"sync"

	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/metrics"
)

// feedRegistry keeps the engine's open feeds so that a metrics scrape can sum
// their counters, and the totals of closed feeds so that counters never go
// backwards. Only feed creation, feed close and scrapes take its lock; the
// packet path never does.
type feedRegistry struct {
	mu      sync.Mutex
	feeds   map[*Feed]struct{}
	retired [2]metrics.MediaCounters // audio, video
}

func kindIndexOf(kind webrtc.RTPCodecType) int {
	if kind == webrtc.RTPCodecTypeAudio {
		return 0
	}
	return 1
}

func (r *feedRegistry) add(f *Feed) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.feeds == nil {
		r.feeds = map[*Feed]struct{}{}
	}
	r.feeds[f] = struct{}{}
}

// retire removes a closed feed, keeping its counts.
func (r *feedRegistry) retire(f *Feed) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.feeds, f)
	f.stats.addTo(&r.retired[kindIndexOf(f.kind)])
}

// totals sums the retired and open feeds' counters per kind.
func (r *feedRegistry) totals() (audio, video metrics.MediaCounters) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.retired
	for f := range r.feeds {
		i := kindIndexOf(f.kind)
		out[i].Tracks++
		f.stats.addTo(&out[i])
	}
	return out[0], out[1]
}

// addTo adds a snapshot of s to c.
func (s *Stats) addTo(c *metrics.MediaCounters) {
	c.PacketsIn += s.PacketsIn.Load()
	c.BytesIn += s.BytesIn.Load()
	c.PacketsOut += s.PacketsOut.Load()
	c.BytesOut += s.BytesOut.Load()
	c.Malformed += s.Malformed.Load()
	c.Late += s.Late.Load()
	c.QueueDrops += s.QueueDrops.Load()
	c.CacheMisses += s.CacheMisses.Load()
	c.NACKsReceived += s.NACKsReceived.Load()
	c.Retransmits += s.Retransmits.Load()
	c.PLIsReceived += s.PLIsReceived.Load()
	c.KeyframeRequests += s.KeyframeRequests.Load()
}
