package media

import (
	"errors"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/talkrelay/talkrelay/media/codec"
	"github.com/talkrelay/talkrelay/media/packetcache"
	"github.com/talkrelay/talkrelay/metrics"
)

// RemoteTrack is the publisher's incoming stream a Feed reads: a *webrtc.TrackRemote.
type RemoteTrack interface {
	Read(b []byte) (int, interceptor.Attributes, error)
	SetReadDeadline(t time.Time) error
}

// KeyframeInterval is the shortest time between two keyframe requests sent to the
// publisher for one feed: many viewers' PLIs become one request.
const KeyframeInterval = 500 * time.Millisecond

// FeedConfig describes a feed.
type FeedConfig struct {
	TrackID  string // track id viewers see
	StreamID string // stream (MediaStream) id viewers see
	Codec    webrtc.RTPCodecParameters
	// RIDs names the simulcast layers the publisher sends, lowest first; empty
	// means one layer. Viewers each receive one layer, switched at keyframes.
	RIDs []string
	// CacheSlots is the packet cache size; it must hold a whole GOP for late joiners
	// to start at once. Default 2048 for video, 256 for audio.
	CacheSlots int
	// Workers is the number of fan-out goroutines. Default GOMAXPROCS.
	Workers int
	Logger  *slog.Logger
	// Flush, if set, is called by a worker after each round of sends, so that
	// what it wrote through a BatchConn leaves; Engine.NewFeed sets it.
	Flush func()
	// Metrics receives the feed's latency observations; nil records into
	// unregistered metrics. Engine.NewFeed sets the engine's.
	Metrics *metrics.SFU
	// OnLayersWatched, if set, is called (on any goroutine, never blocking)
	// when the set of simulcast layers that viewers want may have changed; read
	// it with WatchedLayers, so the publisher can stop encoding unwatched ones.
	OnLayersWatched func()
	// onClose runs once when the feed closes (the engine retires its counters).
	onClose func(*Feed)
}

// Feed is one published track as viewers see it: a shared packet cache, a fixed
// pool of fan-out workers and the viewers' down tracks. A feed outlives the
// publisher's connection, so a host who reconnects continues the same stream.
type Feed struct {
	trackID, streamID string
	kind              webrtc.RTPCodecType
	codec             webrtc.RTPCodecParameters
	codecKind         codec.Kind
	layers            []*layer
	shards            []*shard
	flush             func()
	log               *slog.Logger

	muted  atomic.Bool
	resync atomic.Uint32 // bumped on unmute and gate reopening: down tracks restart cleanly
	gate   atomic.Uint32 // a Gate: which down tracks receive packets
	meter  LevelMeter    // the publisher's audio levels (Upstream.AudioLevelID)
	// lastEstimate is the monotonic time (ns since start) of the last relayed REMB.
	lastEstimate atomic.Int64
	start        time.Time

	srcMu sync.Mutex // guards the layers' sources

	stats Stats
	// Resolved once at creation so that recording is one atomic add.
	fwdLatency    prometheus.Observer
	firstKeyframe prometheus.Observer
	downTracks    *prometheus.CounterVec
	onClose       func(*Feed)
	onLayers      func()
	closeOnce     sync.Once

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// newCacheFor sizes a feed's cache: video must hold a whole GOP (2048 packets is
// several seconds of 1.5 Mbit/s), audio only what NACKs may ask for.
func newCacheFor(kind webrtc.RTPCodecType) *packetcache.Cache {
	if kind == webrtc.RTPCodecTypeAudio {
		return packetcache.New(256)
	}
	return packetcache.New(2048)
}

// source is one attached publisher stream and its reader goroutine.
type source struct {
	layer   *layer
	track   RemoteTrack
	up      Upstream
	stopped atomic.Bool
	done    chan struct{}
}

// NewFeed starts a feed's workers. It forwards nothing until Attach.
func NewFeed(cfg FeedConfig) *Feed {
	kind := webrtc.RTPCodecTypeVideo
	if cfg.Codec.ClockRate == 48000 {
		kind = webrtc.RTPCodecTypeAudio
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Feed{
		trackID:   cfg.TrackID,
		streamID:  cfg.StreamID,
		kind:      kind,
		codec:     cfg.Codec,
		codecKind: codec.KindOf(cfg.Codec.MimeType),
		log:       log.With("track", cfg.TrackID, "codec", cfg.Codec.MimeType),
		start:     time.Now(),
		stop:      make(chan struct{}),
		flush:     cfg.Flush,
	}
	f.useMetrics(cfg.Metrics)
	f.onClose = cfg.onClose
	f.onLayers = cfg.OnLayersWatched
	if f.flush == nil {
		f.flush = func() {}
	}
	rids := cfg.RIDs
	if len(rids) == 0 {
		rids = []string{""}
	}
	for i, rid := range rids[:min(len(rids), MaxLayers)] {
		l := &layer{index: i, rid: rid, cache: newCacheFor(kind)}
		if cfg.CacheSlots > 0 {
			l.cache = packetcache.New(cfg.CacheSlots)
		}
		l.lastKeyframeRequest.Store(-int64(KeyframeInterval))
		f.layers = append(f.layers, l)
	}
	f.lastEstimate.Store(-int64(EstimateInterval))
	for i := 0; i < cfg.Workers; i++ {
		s := newShard(f)
		f.shards = append(f.shards, s)
		f.wg.Add(1)
		// Worker: owned by the feed, ends when the feed closes.
		go s.run(&f.wg)
	}
	return f
}

// Kind is audio or video.
func (f *Feed) Kind() webrtc.RTPCodecType { return f.kind }

// Codec is the codec the feed carries; a publisher stream of another codec needs a new feed.
func (f *Feed) Codec() webrtc.RTPCodecParameters { return f.codec }

// Stats returns the feed's counters.
func (f *Feed) Stats() *Stats { return &f.stats }

// Upstream is how a feed reaches its publisher. Either function may be nil.
type Upstream struct {
	// RequestKeyframe sends a PLI to the publisher; the feed rate-limits it.
	RequestKeyframe func()
	// Estimate sends the receivers' bandwidth estimate (REMB) to the publisher,
	// so its encoder fits their downlink. Set it only where one receiver's
	// estimate may bound the sender (a 1:1 call): in a live, one viewer on a
	// bad network must not lower everyone's quality.
	Estimate func(bitsPerSecond float32)
	// AudioLevelID is the id the publisher's connection negotiated for the
	// RFC 6464 audio level header extension (see AudioLevelID); when not 0,
	// the reader meters each packet's level (Feed.Loudness).
	AudioLevelID uint8
}

// Attach makes t the source of the feed's only (or lowest) layer; see AttachLayer.
func (f *Feed) Attach(t RemoteTrack, reports RTCPReader, up Upstream) {
	f.AttachLayer(0, t, reports, up)
}

// AttachLayer makes t the source of layer i, replacing (and stopping) any
// earlier one, so that viewers continue on the new stream without
// renegotiation. reports is the publisher's RTCP for t (its
// *webrtc.RTPReceiver), read for sender reports; it may be nil. up reaches the
// publisher with keyframe requests and estimates.
func (f *Feed) AttachLayer(i int, t RemoteTrack, reports RTCPReader, up Upstream) {
	if i < 0 || i >= len(f.layers) {
		f.log.Warn("no such layer", "layer", i)
		return
	}
	l := f.layers[i]
	f.srcMu.Lock()
	defer f.srcMu.Unlock()
	select {
	case <-f.stop:
		return
	default:
	}
	f.detachLocked(l)
	l.cache.Reset()
	epoch := l.epoch.Add(1)
	s := &source{layer: l, track: t, up: up, done: make(chan struct{})}
	l.src = s
	f.wg.Add(1)
	// Reader: owned by the feed, ends when the track ends, a newer source replaces
	// it, or the feed closes.
	go f.read(s)
	if reports != nil {
		// Report reader: owned by the source, ends when its receiver stops.
		go f.serveReports(l, reports, epoch)
	}
}

// Detach stops reading the layers' sources. Viewers keep their down tracks and
// continue when new sources attach.
func (f *Feed) Detach() {
	f.srcMu.Lock()
	defer f.srcMu.Unlock()
	for _, l := range f.layers {
		f.detachLocked(l)
	}
}

func (f *Feed) detachLocked(l *layer) {
	if l.src == nil {
		return
	}
	l.src.stopped.Store(true)
	_ = l.src.track.SetReadDeadline(time.Now())
	<-l.src.done
	l.src = nil
}

// WatchedLayers returns the RIDs of the simulcast layers some viewer wants.
func (f *Feed) WatchedLayers() []string {
	var out []string
	for _, l := range f.layers {
		if l.watchers.Load() > 0 {
			out = append(out, l.rid)
		}
	}
	return out
}

func (f *Feed) layersChanged() {
	if f.onLayers != nil {
		f.onLayers()
	}
}

// Layers is the number of layers the feed carries (1 without simulcast).
func (f *Feed) Layers() int { return len(f.layers) }

// LayerRID is layer i's RID ("" without simulcast).
func (f *Feed) LayerRID(i int) string { return f.layers[i].rid }

// SetMuted stops (true) or resumes (false) forwarding. On resume, video viewers
// wait for a keyframe, which the feed requests at once.
func (f *Feed) SetMuted(muted bool) {
	if f.muted.Swap(muted) == muted {
		return
	}
	if !muted {
		f.resync.Add(1)
		f.RequestKeyframe()
	}
}

// Muted reports whether forwarding is stopped by the publisher.
func (f *Feed) Muted() bool { return f.muted.Load() }

// RequestKeyframe asks the publisher for a keyframe on every layer, each
// unless one was asked for within KeyframeInterval. Safe from any goroutine.
func (f *Feed) RequestKeyframe() {
	for i := range f.layers {
		f.requestLayerKeyframe(i)
	}
}

// requestLayerKeyframe asks for a keyframe of layer i unless one was asked
// for within KeyframeInterval.
func (f *Feed) requestLayerKeyframe(i int) {
	if f.kind != webrtc.RTPCodecTypeVideo || i < 0 || i >= len(f.layers) {
		return
	}
	l := f.layers[i]
	now := int64(time.Since(f.start))
	last := l.lastKeyframeRequest.Load()
	if now-last < int64(KeyframeInterval) || !l.lastKeyframeRequest.CompareAndSwap(last, now) {
		return
	}
	f.srcMu.Lock()
	src := l.src
	f.srcMu.Unlock()
	if src == nil || src.up.RequestKeyframe == nil {
		return
	}
	f.stats.KeyframeRequests.Add(1)
	src.up.RequestKeyframe()
}

// EstimateInterval is the shortest time between two bandwidth estimates relayed
// to a publisher: receivers send REMB about once a second, faster when it drops.
const EstimateInterval = 250 * time.Millisecond

// relayEstimate passes a receiver's bandwidth estimate to the publisher, when
// the feed's upstream takes estimates, at most once per EstimateInterval.
func (f *Feed) relayEstimate(bitsPerSecond float32) {
	f.srcMu.Lock()
	src := f.layers[0].src
	f.srcMu.Unlock()
	if src == nil || src.up.Estimate == nil {
		return
	}
	now := int64(time.Since(f.start))
	last := f.lastEstimate.Load()
	if now-last < int64(EstimateInterval) || !f.lastEstimate.CompareAndSwap(last, now) {
		return
	}
	src.up.Estimate(bitsPerSecond)
}

// read stores each packet once in the cache and hands its index to the workers.
func (f *Feed) read(s *source) {
	defer f.wg.Done()
	defer close(s.done)
	buf := make([]byte, packetcache.MaxPacketSize)
	in := ingress{layer: s.layer, epoch: s.layer.epoch.Load(), levelID: s.up.AudioLevelID}
	for {
		n, _, err := s.track.Read(buf)
		if s.stopped.Load() {
			return
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			f.log.Debug("feed source ended", "err", err)
			return
		}
		ref, ok := f.store(&in, buf[:n])
		if !ok || f.muted.Load() || ref.gateClosed || (len(f.layers) > 1 && !s.layer.wanted()) {
			continue
		}
		for _, sh := range f.shards {
			sh.push(ref)
		}
	}
}

// ingress is the reader's state for one source.
type ingress struct {
	layer     *layer
	epoch     uint32
	keyTS     uint32 // timestamp of the last keyframe start
	haveKeyTS bool
	levelID   uint8 // the audio level header extension's id; 0: none
}

// store parses pkt, marks keyframe starts and stores it in the cache.
func (f *Feed) store(in *ingress, pkt []byte) (packetRef, bool) {
	seq, payload, ok := parseRTP(pkt)
	if !ok {
		f.stats.Malformed.Add(1)
		return packetRef{}, false
	}
	key := codec.IsKeyframeStart(f.codecKind, payload)
	if key && f.kind == webrtc.RTPCodecTypeVideo {
		// Only a keyframe's first packet starts it: H.264 sends SPS, PPS and
		// IDR slices of one frame (one timestamp) in several packets.
		ts := rtpTimestamp(pkt)
		key = !in.haveKeyTS || ts != in.keyTS
		in.keyTS, in.haveKeyTS = ts, true
		if key && f.codecKind == codec.VP8 {
			if w, h, ok := codec.VP8KeyframeSize(payload); ok {
				in.layer.width.Store(uint32(w))
				in.layer.height.Store(uint32(h))
			}
		}
	}
	ext, ok := in.layer.cache.Store(seq, pkt, key)
	if !ok {
		f.stats.Late.Add(1)
		return packetRef{}, false
	}
	f.stats.PacketsIn.Add(1)
	f.stats.BytesIn.Add(uint64(len(pkt)))
	in.layer.bytesIn.Add(uint64(len(pkt)))
	now := time.Now().UnixNano()
	if in.levelID != 0 {
		if level, _, ok := codec.AudioLevel(pkt, in.levelID); ok {
			f.meter.Observe(level, now)
		}
	}
	gate := Gate(f.gate.Load())
	return packetRef{
		ext: ext, epoch: in.epoch, resync: f.resync.Load(), keyframe: key, layer: uint8(in.layer.index),
		flagged: gate == GateFlagged, gateClosed: gate == GateClosed, readAt: now,
	}, true
}

// AddDownTrack starts forwarding to d, beginning with the cached packets from the
// last keyframe so that a late joiner's first frame shows at once. d must be bound.
func (f *Feed) AddDownTrack(d *DownTrack) {
	best := f.shards[0]
	for _, s := range f.shards[1:] {
		if s.count.Load() < best.count.Load() {
			best = s
		}
	}
	best.control(ctrlMsg{op: opAdd, track: d})
}

// RemoveDownTrack stops forwarding to d; when it returns, d is written no more.
func (f *Feed) RemoveDownTrack(d *DownTrack) {
	s := d.shard.Load()
	if s == nil {
		return
	}
	done := make(chan struct{})
	if s.control(ctrlMsg{op: opRemove, track: d, done: done}) {
		select {
		case <-done:
		case <-f.stop:
		}
	}
}

// Close stops the source and the workers. Down tracks stay bound to their peer
// connections; their owners remove them.
func (f *Feed) Close() {
	f.Detach()
	f.stopOnce.Do(func() { close(f.stop) })
	f.wg.Wait()
	f.closeOnce.Do(func() {
		if f.onClose != nil {
			f.onClose(f)
		}
	})
}

// useMetrics resolves the feed's observers once, so that recording is one
// atomic add; nil records into unregistered metrics.
func (f *Feed) useMetrics(m *metrics.SFU) {
	if m == nil {
		m = metrics.NewSFU(nil)
	}
	f.fwdLatency = m.ForwardLatency(kindLabel(f.kind))
	f.firstKeyframe = m.FirstKeyframe
	f.downTracks = m.DownTracks
}

// kindLabel is the metrics kind label of a feed kind.
func kindLabel(kind webrtc.RTPCodecType) string {
	if kind == webrtc.RTPCodecTypeAudio {
		return metrics.KindAudio
	}
	return metrics.KindVideo
}
