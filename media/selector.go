package media

import (
	"sync"
	"time"
)

// Layer selection: each viewer of a simulcast feed gets the highest layer that
// fits its estimated downlink and its requested size. The estimate is
// loss-based, from the viewer's receiver reports (about one a second), as in
// GCC's loss controller, and bounded by a REMB when the viewer sends one:
//   - loss above 10 %: the estimate drops to what actually got through (the
//     layer's rate times the share delivered) — downgrades are immediate;
//   - no loss: it grows by a quarter per report (a little loss: 5 %), but a
//     higher layer is only tried when the estimate clears its rate with margin,
//     and a layer that failed (loss right after switching up, or the layer a
//     congestion downgrade left) is not tried again before a backoff that
//     doubles with each failure. That is the probe: sending the higher layer.
// Audio is kept out of the budget, so it is never what gives.

const (
	lossHigh        = 0.10 // above: congestion
	lossLow         = 0.02 // below: room to grow
	growFast        = 1.25 // per report without loss
	growSlow        = 1.05 // per report with a little loss
	upgradeMargin   = 1.15 // the estimate must clear the next layer's rate by this
	audioBudget     = 64_000
	initialBackoff  = 4 * time.Second
	maxBackoff      = 60 * time.Second
	probeGrace      = 3 * time.Second // loss within this of an upgrade fails the probe
	defaultEstimate = 2_500_000       // before any layer's rate is known
)

// selector estimates one viewer's bandwidth for one simulcast down track and
// picks its target layer. Its methods run on the down track's RTCP goroutine
// and on signaling; the worker reads the target and reports switches.
type selector struct {
	d *DownTrack

	mu        sync.Mutex
	estimate  float64 // bits per second available for this video
	remb      float64 // the viewer's own estimate, 0 if none
	target    int
	maxHeight int
	active    bool // counted in its target layer's watchers
	upgradeAt time.Time
	failedAt  [MaxLayers]time.Time
	backoff   [MaxLayers]time.Duration
}

func newSelector(d *DownTrack) *selector {
	s := &selector{d: d, estimate: defaultEstimate}
	for i := range s.backoff {
		s.backoff[i] = initialBackoff
	}
	return s
}

// initial picks the first layer: the highest whose rate fits the default
// estimate (all of them while rates are unknown).
func (s *selector) initial() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.target = s.bestLocked(time.Now(), false)
	if r := s.rateLocked(s.target, time.Now().UnixNano()); r > 0 {
		s.estimate = max(s.estimate, float64(r)*upgradeMargin)
	}
	return s.target
}

func (s *selector) targetLayer() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.target
}

// activate and deactivate count the down track in its target layer's
// watchers while a worker serves it (the publisher hears which layers are
// watched).
func (s *selector) activate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.active {
		s.active = true
		s.d.feed.layers[s.target].watchers.Add(1)
		s.d.feed.layersChanged()
	}
}

func (s *selector) deactivate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active {
		s.active = false
		s.d.feed.layers[s.target].watchers.Add(-1)
		s.d.feed.layersChanged()
	}
}

func (s *selector) setMaxHeight(h int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxHeight = max(h, 0)
	s.retargetLocked(time.Now())
}

func (s *selector) onREMB(bps float32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remb = float64(bps)
	s.retargetLocked(time.Now())
}

// onReceiverReport updates the estimate from the share of packets the viewer
// lost since its last report (fractionLost/256).
func (s *selector) onReceiverReport(fractionLost uint8, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	loss := float64(fractionLost) / 256
	current := int(s.d.curLayer.Load())
	rate := float64(s.rateLocked(current, now.UnixNano()))
	congested := loss > lossHigh
	switch {
	case congested:
		s.estimate *= 1 - loss/2
		if rate > 0 {
			s.estimate = min(s.estimate, rate*(1-loss))
		}
	case loss == 0:
		s.estimate *= growFast
	case loss < lossLow:
		s.estimate *= growSlow
	}
	// Without congestion the estimate may run ahead of what is sent, but not
	// without bound: a probe must be able to fail quickly.
	if rate > 0 {
		s.estimate = min(s.estimate, rate*4+audioBudget)
	}
	if congested {
		s.failLocked(current, now)
	}
	s.retargetLocked(now)
}

// failLocked notes congestion while on layer l: the layers above the one the
// estimate now fits are not tried again before their backoff, and a probe
// that failed (congestion right after climbing to l) doubles l's.
func (s *selector) failLocked(l int, now time.Time) {
	if !s.upgradeAt.IsZero() && now.Sub(s.upgradeAt) < probeGrace {
		s.backoff[l] = min(2*s.backoff[l], maxBackoff)
	}
	fits := s.bestLocked(now, true)
	for i := fits + 1; i < len(s.failedAt); i++ {
		s.failedAt[i] = now
	}
}

// switched is called by the worker when the viewer is on layer l.
func (s *selector) switched(l int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l == s.target {
		s.upgradeAt = time.Now()
	}
}

// retargetLocked picks the best layer now and, when it changes, asks the
// publisher for a keyframe of it: the worker switches at that keyframe.
func (s *selector) retargetLocked(now time.Time) {
	best := s.bestLocked(now, true)
	if best == s.target {
		return
	}
	if best < s.target {
		s.upgradeAt = time.Time{}
	} else if s.upgradeAt.IsZero() || now.Sub(s.upgradeAt) > probeGrace {
		// A successful climb resets the next layer's backoff only after it held.
		s.backoff[s.target] = initialBackoff
	}
	if s.active {
		f := s.d.feed
		f.layers[s.target].watchers.Add(-1)
		f.layers[best].watchers.Add(1)
		defer f.layersChanged()
	}
	s.target = best
	s.d.feed.requestLayerKeyframe(best)
}

// bestLocked is the highest layer that is being published, fits the size
// limit and the estimate (with margin above the current target), and is not
// backing off. Without any fitting layer it is the lowest published one.
func (s *selector) bestLocked(now time.Time, useEstimate bool) int {
	f := s.d.feed
	budget := s.estimate
	if s.remb > 0 {
		budget = min(budget, s.remb)
	}
	budget -= audioBudget
	best, lowest := -1, -1
	for i, l := range f.layers {
		if !f.layerLive(i) {
			continue
		}
		if lowest < 0 {
			lowest = i
		}
		if h := int(l.height.Load()); s.maxHeight > 0 && h > 0 && h > s.maxHeight && best >= 0 {
			continue
		}
		if useEstimate {
			rate := float64(s.rateLocked(i, now.UnixNano()))
			need := rate
			if i > s.target {
				need *= upgradeMargin
				if now.Sub(s.failedAt[i]) < s.backoff[i] {
					continue
				}
			}
			if rate > 0 && need > budget && best >= 0 {
				continue
			}
		}
		best = i
	}
	switch {
	case best >= 0:
		return best
	case lowest >= 0:
		return lowest
	}
	return s.target
}

func (s *selector) rateLocked(i int, now int64) uint64 {
	return s.d.feed.layers[i].bitrate(now)
}
