package media

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/talkrelay/talkrelay/media/packetcache"
)

// packetRef is what the reader hands a worker: where the packet sits in the cache
// and which stream generation it belongs to. Packets themselves are never copied
// into queues.
type packetRef struct {
	ext      uint64 // extended sequence number: the cache index
	epoch    uint32 // publisher stream generation
	resync   uint32 // unmute generation
	keyframe bool
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

// shard is one fan-out worker and the down tracks it serves.
type shard struct {
	feed  *Feed
	queue chan packetRef
	ctrl  chan ctrlMsg
	count atomic.Int32

	// Owned by the worker goroutine.
	tracks []*DownTrack
	buf    []byte
	hdr    rtp.Header
}

func newShard(f *Feed) *shard {
	return &shard{
		feed:  f,
		queue: make(chan packetRef, queueLen),
		ctrl:  make(chan ctrlMsg, ctrlLen),
		buf:   make([]byte, packetcache.MaxPacketSize),
	}
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
		case ref := <-s.queue:
			s.forward(ref)
		}
	}
}

func (s *shard) handle(m ctrlMsg) {
	switch m.op {
	case opAdd:
		m.track.shard.Store(s)
		s.tracks = append(s.tracks, m.track)
		s.count.Add(1)
		s.replay(m.track)
	case opRemove:
		for i, d := range s.tracks {
			if d == m.track {
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

// load fetches packet ext from the cache into the worker's buffer and parses its
// header into s.hdr, dropping header extensions: their ids were negotiated with
// the publisher, not with the viewer.
func (s *shard) load(ext uint64) (payload []byte, ok bool) {
	n, ok := s.feed.cache.Get(ext, s.buf)
	if !ok {
		s.feed.stats.CacheMisses.Add(1)
		return nil, false
	}
	hn, err := s.hdr.Unmarshal(s.buf[:n])
	if err != nil {
		return nil, false
	}
	s.hdr.Extension = false
	s.hdr.Extensions = s.hdr.Extensions[:0]
	return s.buf[hn:n], true
}

// forward sends one packet to every down track of the shard: one cache read and
// one header parse per packet, then a header rewrite and an encrypted send per viewer.
func (s *shard) forward(ref packetRef) {
	payload, ok := s.load(ref.ext)
	if !ok {
		return
	}
	now := time.Now().UnixNano()
	ts := s.hdr.Timestamp
	var sent, bytes uint64
	for _, d := range s.tracks {
		if d.forward(&s.hdr, ts, payload, ref, now) {
			sent++
			bytes += uint64(len(payload))
		}
	}
	s.feed.stats.PacketsOut.Add(sent)
	s.feed.stats.BytesOut.Add(bytes)
}

// replay starts a new down track at the last cached keyframe, so a late joiner
// sees a picture at once instead of waiting for the publisher's next keyframe.
func (s *shard) replay(d *DownTrack) {
	f := s.feed
	epoch, resync := f.epoch.Load(), f.resync.Load()
	if f.muted.Load() {
		return
	}
	key, ok := f.cache.LastKeyframe()
	if !ok {
		f.RequestKeyframe()
		return
	}
	head, _ := f.cache.Head()
	now := time.Now().UnixNano()
	for ext := key; ext <= head; ext++ {
		payload, ok := s.load(ext)
		if !ok {
			continue
		}
		ref := packetRef{ext: ext, epoch: epoch, resync: resync, keyframe: ext == key}
		if d.forward(&s.hdr, s.hdr.Timestamp, payload, ref, now) {
			f.stats.PacketsOut.Add(1)
			f.stats.BytesOut.Add(uint64(len(payload)))
		}
	}
}

// retransmit answers a viewer's NACK for its own sequence number from the cache.
func (s *shard) retransmit(d *DownTrack, seq uint16) {
	ext, ok := d.sourceExt(seq)
	if !ok {
		return
	}
	payload, ok := s.load(ext)
	if !ok {
		return
	}
	if d.resend(&s.hdr, payload, ext) {
		s.feed.stats.Retransmits.Add(1)
	}
}
