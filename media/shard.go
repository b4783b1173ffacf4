package media

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/media/packetcache"
)

// packetRef is what the reader hands a worker: where the packet sits in the cache
// and which stream generation it belongs to. Packets themselves are never copied
// into queues.
type packetRef struct {
	ext      uint64 // extended sequence number: the cache index
	epoch    uint32 // publisher stream generation (of its layer)
	resync   uint32 // unmute generation
	keyframe bool
	layer    uint8 // the simulcast layer it belongs to
	// flagged: the feed's gate was GateFlagged (only down tracks whose flag
	// is set take it); gateClosed: GateClosed, nobody takes it.
	flagged, gateClosed bool
	readAt              int64 // Unix ns when the reader took it, for the forwarding latency
}

const (
	// queueLen bounds a worker's backlog: about a second of 1.5 Mbit/s video. A
	// worker that falls that far behind drops, and its viewers recover by NACK.
	queueLen = 256
	ctrlLen  = 64
)

type ctrlOp uint8

const (
	opAdd ctrlOp = iota
	opRemove
	opNACK
)

// ctrlMsg changes a worker's viewers or asks it to retransmit; it is applied
// between packets, so a down track's state has a single writer.
type ctrlMsg struct {
	op    ctrlOp
	track *DownTrack
	done  chan struct{}
	seqs  []uint16
}

// frameWait bounds how long a worker holds a video frame's first packets for
// the rest of it: a frame's packets arrive within about a millisecond.
const frameWait = 2 * time.Millisecond

// maxGroup is how many queued packets a worker takes at once. It sends all of
// them to one viewer before the next, so a viewer's packets of a frame leave in
// one batched send; it never waits for packets to arrive.
const maxGroup = 16

// loaded is a packet fetched from the cache, ready to rewrite and send.
type loaded struct {
	buf     []byte
	hdr     rtp.Header
	ts      uint32 // the publisher's timestamp (hdr's is rewritten per viewer)
	payload []byte
	ref     packetRef
}

// shard is one fan-out worker and the down tracks it serves.
type shard struct {
	feed  *Feed
	queue chan packetRef
	ctrl  chan ctrlMsg
	count atomic.Int32

	// Owned by the worker goroutine.
	tracks    []*DownTrack
	group     [maxGroup]loaded
	scratch   loaded // for replays and retransmissions
	seal      []byte // direct writes' scratch (see directWriter.write)
	frameWait *time.Timer
}

func newShard(f *Feed) *shard {
	s := &shard{
		feed:  f,
		queue: make(chan packetRef, queueLen),
		ctrl:  make(chan ctrlMsg, ctrlLen),
	}
	for i := range s.group {
		s.group[i].buf = make([]byte, packetcache.MaxPacketSize)
	}
	s.scratch.buf = make([]byte, packetcache.MaxPacketSize)
	s.seal = make([]byte, sealBuffer)
	s.frameWait = time.NewTimer(time.Hour)
	s.frameWait.Stop()
	return s
}

// push hands a packet to the worker without ever blocking the reader.
func (s *shard) push(ref packetRef) {
	if s.count.Load() == 0 {
		return
	}
	select {
	case s.queue <- ref:
	default:
		s.feed.stats.QueueDrops.Add(1)
	}
}

// control queues m for the worker. NACKs are dropped when the queue is full (the
// viewer will ask again); membership changes wait for room.
func (s *shard) control(m ctrlMsg) bool {
	if m.op == opNACK {
		select {
		case s.ctrl <- m:
			return true
		default:
			return false
		}
	}
	select {
	case s.ctrl <- m:
		return true
	case <-s.feed.stop:
		return false
	}
}

func (s *shard) run(wg *sync.WaitGroup) {
	defer wg.Done()
	reports := time.NewTicker(ReportInterval)
	defer reports.Stop()
	for {
		select {
		case <-s.feed.stop:
			return
		case now := <-reports.C:
			for _, d := range s.tracks {
				d.report(now)
			}
		case m := <-s.ctrl:
			s.handle(m)
			s.feed.flush()
		case ref := <-s.queue:
			s.forward(ref)
			s.feed.flush()
		}
	}
}

func (s *shard) handle(m ctrlMsg) {
	switch m.op {
	case opAdd:
		m.track.shard.Store(s)
		m.track.addedAt = time.Now().UnixNano()
		if m.track.sel != nil {
			m.track.sel.activate()
			s.feed.layers[m.track.layer].onLayer.Add(1)
		}
		s.tracks = append(s.tracks, m.track)
		s.count.Add(1)
		s.replay(m.track)
	case opRemove:
		for i, d := range s.tracks {
			if d == m.track {
				if d.sel != nil {
					d.sel.deactivate()
					s.feed.layers[d.layer].onLayer.Add(-1)
				}
				last := len(s.tracks) - 1
				s.tracks[i] = s.tracks[last]
				s.tracks[last] = nil
				s.tracks = s.tracks[:last]
				s.count.Add(-1)
				d.shard.Store(nil)
				break
			}
		}
		close(m.done)
	case opNACK:
		for _, seq := range m.seqs {
			s.retransmit(m.track, seq)
		}
	}
}

// load fetches packet ref from the cache into l and parses its header, dropping
// header extensions: their ids were negotiated with the publisher, not with the
// viewer.
func (s *shard) load(l *loaded, ref packetRef) bool {
	n, ok := s.feed.layers[ref.layer].cache.Get(ref.ext, l.buf)
	if !ok {
		s.feed.stats.CacheMisses.Add(1)
		return false
	}
	hn, err := l.hdr.Unmarshal(l.buf[:n])
	if err != nil {
		return false
	}
	l.hdr.Extension = false
	l.hdr.Extensions = l.hdr.Extensions[:0]
	l.ts = l.hdr.Timestamp
	l.payload = l.buf[hn:n]
	l.ref = ref
	return true
}

// forward sends first, and whatever else is already queued, to every down track
// of the shard: one cache read and header parse per packet, then per viewer a
// header rewrite and an encrypted send of each packet in turn.
func (s *shard) forward(first packetRef) {
	n := 0
	if s.load(&s.group[0], first) {
		n++
	}
	// Take what is queued; for video, wait a moment for the rest of the frame
	// (its packets leave the publisher back to back, the marker bit ends it), so
	// each viewer's frame goes out in one batched send.
	waiting := false
drain:
	for n < maxGroup {
		select {
		case ref := <-s.queue:
			if s.load(&s.group[n], ref) {
				n++
			}
			continue
		default:
		}
		if n == 0 || s.group[n-1].hdr.Marker || s.feed.kind != webrtc.RTPCodecTypeVideo {
			break
		}
		if !waiting {
			waiting = true
			s.frameWait.Reset(frameWait)
		}
		select {
		case ref := <-s.queue:
			if s.load(&s.group[n], ref) {
				n++
			}
		case <-s.frameWait.C:
			waiting = false
			break drain
		}
	}
	if waiting {
		s.frameWait.Stop()
	}
	if n == 0 {
		return
	}
	now := time.Now().UnixNano()
	var sent, bytes uint64
	for _, d := range s.tracks {
		for i := 0; i < n; i++ {
			g := &s.group[i]
			if d.forward(&g.hdr, g.ts, g.payload, g.ref, now) {
				sent++
				bytes += uint64(len(g.payload))
			}
		}
	}
	s.feed.stats.PacketsOut.Add(sent)
	s.feed.stats.BytesOut.Add(bytes)
	if sent > 0 {
		// Once per group, not per viewer or packet: the group's oldest packet
		// to the worker's last viewer is the worst delay the group saw.
		s.feed.fwdLatency.Observe(float64(time.Now().UnixNano()-s.group[0].ref.readAt) / 1e9)
	}
}

// replay starts a new down track at the last cached keyframe, so a late joiner
// sees a picture at once instead of waiting for the publisher's next keyframe.
func (s *shard) replay(d *DownTrack) {
	f := s.feed
	ly := f.layers[d.layer]
	epoch, resync := ly.epoch.Load(), f.resync.Load()
	gate := Gate(f.gate.Load())
	if f.muted.Load() || gate == GateClosed {
		return
	}
	key, ok := ly.cache.LastKeyframe()
	if !ok {
		f.requestLayerKeyframe(d.layer)
		return
	}
	head, _ := ly.cache.Head()
	now := time.Now().UnixNano()
	l := &s.scratch
	for ext := key; ext <= head; ext++ {
		ref := packetRef{ext: ext, epoch: epoch, resync: resync, keyframe: ext == key, layer: uint8(d.layer), flagged: gate == GateFlagged}
		if !s.load(l, ref) {
			continue
		}
		if d.forward(&l.hdr, l.ts, l.payload, ref, now) {
			f.stats.PacketsOut.Add(1)
			f.stats.BytesOut.Add(uint64(len(l.payload)))
		}
	}
}

// retransmit answers a viewer's NACK for its own sequence number from the cache.
func (s *shard) retransmit(d *DownTrack, seq uint16) {
	ext, ok := d.sourceExt(seq)
	if !ok {
		return
	}
	l := &s.scratch
	if !s.load(l, packetRef{ext: ext, layer: uint8(d.layer)}) {
		// Gone from the cache: only a new keyframe repairs the viewer's picture.
		s.feed.requestLayerKeyframe(d.layer)
		return
	}
	if d.resend(&l.hdr, l.payload, ext) {
		s.feed.stats.Retransmits.Add(1)
	}
}
