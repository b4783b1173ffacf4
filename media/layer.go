package media

import (
	"sync"
	"sync/atomic"

	"github.com/talkrelay/talkrelay/media/packetcache"
)

// MaxLayers is the most simulcast layers a feed carries.
const MaxLayers = 3

// layer is one encoding of a feed's track: a simulcast layer (lowest first), or
// the only one. Each has its own publisher stream, packet cache and clock; a
// viewer receives one layer at a time.
type layer struct {
	index int
	rid   string
	cache *packetcache.Cache
	epoch atomic.Uint32                // bumped when a publisher stream attaches
	clock atomic.Pointer[clockMapping] // from the stream's sender reports
	src   *source                      // guarded by Feed.srcMu
	// lastKeyframeRequest is the monotonic time (ns since the feed's start) of
	// the last PLI for this layer.
	lastKeyframeRequest atomic.Int64
	bytesIn             atomic.Uint64
	width, height       atomic.Uint32 // from its last keyframe, when the codec says
	watchers            atomic.Int32  // down tracks whose target is this layer
	onLayer             atomic.Int32  // down tracks being sent this layer

	rateMu    sync.Mutex
	rateAt    int64 // Unix ns of the last sample
	rateBytes uint64
	rateBps   uint64
}

// rateWindow is the least time between two samples of a layer's bitrate.
const rateWindow = int64(500_000_000)

// bitrate is the layer's incoming rate in bits per second, measured over the
// last window of at least half a second in which it flowed (0 until it has). Callers are the viewers' estimators,
// about once a second each.
func (l *layer) bitrate(now int64) uint64 {
	l.rateMu.Lock()
	defer l.rateMu.Unlock()
	if l.rateAt == 0 {
		l.rateAt, l.rateBytes = now, l.bytesIn.Load()
		return 0
	}
	if elapsed := now - l.rateAt; elapsed >= rateWindow {
		b := l.bytesIn.Load()
		// A layer that stopped (its encoder paused while nobody watched it)
		// keeps its last rate: choosing it again is choosing that much.
		if r := (b - l.rateBytes) * 8 * 1e9 / uint64(elapsed); r > 0 {
			l.rateBps = r
		}
		l.rateAt, l.rateBytes = now, b
	}
	return l.rateBps
}

// live reports whether a publisher stream is attached to the layer.
func (f *Feed) layerLive(i int) bool {
	f.srcMu.Lock()
	defer f.srcMu.Unlock()
	return f.layers[i].src != nil
}

// wanted reports whether any down track is on the layer or switching to it:
// the reader hands the workers nothing of a layer nobody wants.
func (l *layer) wanted() bool {
	return l.watchers.Load() > 0 || l.onLayer.Load() > 0
}
