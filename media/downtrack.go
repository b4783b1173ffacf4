package media

import (
	"errors"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/media/codec"
)

// DownTrack is one viewer's copy of a feed: a webrtc.TrackLocal with its own SSRC,
// sequence numbers and timestamps, rewritten so the viewer sees one continuous
// stream across publisher mutes and reconnects.
type DownTrack struct {
	feed  *Feed
	shard atomic.Pointer[shard]

	rtcpOut func([]rtcp.Packet) error // the viewer's connection, for sender reports

	// Set by Bind before the down track is added to a worker.
	bound  atomic.Bool
	ssrc   uint32
	pt     uint8
	writer webrtc.TrackLocalWriter
	// link, when set (Engine.NewDownTrack), offers the direct path; direct is
	// this track's writer on it, made by the worker once the keys are known.
	link       *sendLink
	direct     *directWriter
	directOn   atomic.Bool // direct exists (for tests and diagnostics)
	wrote      bool        // the path is chosen (at the first packet)
	ownScratch []byte      // see sealScratch

	nackBudget nackBudget // owned by the RTCP goroutine (ServeRTCP)

	// sel picks the layer of a simulcast video feed; nil otherwise.
	sel *selector
	// gateFlag, when set, opens a GateFlagged feed to this down track (see
	// SetGateFlag); set before the down track is added.
	gateFlag *atomic.Bool
	// curLayer mirrors layer for other goroutines (keyframe requests).
	curLayer atomic.Int32

	// Owned by the worker that serves the down track.
	layer        int // the layer being forwarded
	lastSrcTS    uint32
	vp8          vp8Munger
	started      bool
	waitKeyframe bool
	epoch        uint32
	resync       uint32
	seqBase      uint64 // input ext - seqBase = output ext
	nextOut      uint64 // next output extended sequence number
	lastExt      uint64 // last input ext sent in this mapping
	rebaseExt    uint64 // first input ext of the current mapping
	tsOffset     uint32
	lastOutTS    uint32
	lastSentNs   int64
	sinceRebase  bool // the current mapping has its seqBase
	newStream    bool // the next rebase must also recompute tsOffset
	packets      uint32
	octets       uint32
	addedAt      int64 // Unix ns when its worker took it, for time to first keyframe
	sentFirst    bool
}

// NewDownTrack returns a down track of f for one viewer. Add it to the viewer's
// peer connection, then call f.AddDownTrack once the connection is up. rtcpOut
// (the connection's WriteRTCP) carries its sender reports; nil sends none.
func NewDownTrack(f *Feed, rtcpOut func([]rtcp.Packet) error) *DownTrack {
	d := &DownTrack{
		feed:    f,
		rtcpOut: rtcpOut,
		// A random start, as RFC 3550 asks, kept above 2^16 so unwrapping never underflows.
		nextOut:  1<<16 + uint64(rand.N(1<<15)),
		tsOffset: rand.Uint32(),
	}
	if len(f.layers) > 1 && f.kind == webrtc.RTPCodecTypeVideo {
		d.sel = newSelector(d)
		d.layer = d.sel.initial()
		d.curLayer.Store(int32(d.layer))
	}
	return d
}

// SetMaxHeight tells a simulcast down track how large the viewer shows the
// video: layers taller than height (when known) are not sent. 0 lifts the limit.
func (d *DownTrack) SetMaxHeight(height int) {
	if d.sel != nil {
		d.sel.setMaxHeight(height)
	}
}

// Layer is the layer being forwarded, and the one the down track is switching to.
func (d *DownTrack) Layer() (current, target int) {
	current = int(d.curLayer.Load())
	target = current
	if d.sel != nil {
		target = d.sel.targetLayer()
	}
	return current, target
}

// Bind implements webrtc.TrackLocal: it picks the negotiated codec matching the feed's.
func (d *DownTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	for _, c := range ctx.CodecParameters() {
		if codecMatches(c, d.feed.codec) {
			d.ssrc = uint32(ctx.SSRC())
			d.pt = uint8(c.PayloadType)
			d.writer = ctx.WriteStream()
			d.bound.Store(true)
			return c, nil
		}
	}
	return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
}

// Unbind implements webrtc.TrackLocal. The worker skips unbound tracks; the
// down track's owner removes it from the feed.
func (d *DownTrack) Unbind(webrtc.TrackLocalContext) error {
	d.bound.Store(false)
	return nil
}

// ID implements webrtc.TrackLocal.
func (d *DownTrack) ID() string { return d.feed.trackID }

// RID implements webrtc.TrackLocal.
func (d *DownTrack) RID() string { return "" }

// StreamID implements webrtc.TrackLocal.
func (d *DownTrack) StreamID() string { return d.feed.streamID }

// Kind implements webrtc.TrackLocal.
func (d *DownTrack) Kind() webrtc.RTPCodecType { return d.feed.kind }

// Feed is the feed this down track copies.
func (d *DownTrack) Feed() *Feed { return d.feed }

// Bound reports whether the peer connection has negotiated the track.
func (d *DownTrack) Bound() bool { return d.bound.Load() }

func codecMatches(a, b webrtc.RTPCodecParameters) bool {
	if !strings.EqualFold(a.MimeType, b.MimeType) {
		return false
	}
	if strings.EqualFold(a.MimeType, webrtc.MimeTypeH264) {
		return fmtpValue(a.SDPFmtpLine, "packetization-mode") == fmtpValue(b.SDPFmtpLine, "packetization-mode")
	}
	return true
}

func fmtpValue(line, key string) string {
	for _, kv := range strings.Split(line, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

// forward rewrites hdr for this viewer and sends the packet. ts is the publisher's
// timestamp (hdr is shared by the worker's viewers, so each sets every field it uses).
func (d *DownTrack) forward(hdr *rtp.Header, ts uint32, payload []byte, ref packetRef, now int64) bool {
	if !d.bound.Load() {
		return false
	}
	if d.gatedOut(ref) {
		d.sinceRebase = false // when the gate opens, continue without a gap
		return false
	}
	if int(ref.layer) != d.layer {
		// Another layer: switch to it only at a keyframe of the one wanted.
		if d.sel == nil || !ref.keyframe || int(ref.layer) != d.sel.targetLayer() {
			return false
		}
		d.switchLayer(ref, ts)
	}
	if !d.started || ref.epoch != d.epoch || ref.resync != d.resync {
		d.restart(ref)
	}
	if d.waitKeyframe {
		if !ref.keyframe {
			d.feed.RequestKeyframe()
			return false
		}
		d.waitKeyframe = false
	}
	if !d.sinceRebase {
		d.rebase(ref.ext, ts, now)
	} else if ref.ext <= d.lastExt {
		return false // already sent: a replayed packet or a late duplicate
	}
	out := ref.ext - d.seqBase
	hdr.SSRC = d.ssrc
	hdr.PayloadType = d.pt
	hdr.SequenceNumber = uint16(out)
	hdr.Timestamp = ts + d.tsOffset
	if d.sel != nil && d.feed.codecKind == codec.VP8 {
		payload = d.vp8.munge(payload, true)
	}
	if err := d.write(hdr, payload, out); err != nil {
		return false
	}
	d.lastExt = ref.ext
	d.lastSrcTS = ts
	if !d.sentFirst {
		d.firstSent(ref, now)
	}
	d.packets++
	d.octets += uint32(len(payload))
	if out >= d.nextOut {
		d.nextOut = out + 1
	}
	d.lastOutTS = hdr.Timestamp
	d.lastSentNs = now
	return true
}

// firstSent records, for video, the time from activation to the first packet,
// which is always a keyframe start since a new video down track waits for one.
func (d *DownTrack) firstSent(ref packetRef, now int64) {
	d.sentFirst = true
	if d.feed.kind == webrtc.RTPCodecTypeVideo && ref.keyframe && d.addedAt != 0 {
		d.feed.firstKeyframe.Observe(float64(max(now-d.addedAt, 0)) / 1e9)
	}
}

// restart begins a new mapping: after an unmute (same stream, resync changed) or
// on a new publisher stream (epoch changed). Video waits for a keyframe.
func (d *DownTrack) restart(ref packetRef) {
	newStream := d.started && ref.epoch != d.epoch
	d.epoch, d.resync = ref.epoch, ref.resync
	d.waitKeyframe = d.feed.kind == webrtc.RTPCodecTypeVideo
	d.sinceRebase = false
	if newStream {
		d.lastExt = 0
		d.newStream = true
	}
	d.started = true
}

// rebase maps input ext to the next output sequence number, so the viewer sees no
// gap. On a new stream, timestamps continue from the last sent one plus the
// wall-clock time in between.
func (d *DownTrack) rebase(ext uint64, ts uint32, now int64) {
	d.seqBase = ext - d.nextOut
	d.rebaseExt = ext
	d.sinceRebase = true
	if d.newStream {
		d.newStream = false
		elapsed := max(now-d.lastSentNs, 0)
		ticks := uint32(elapsed * int64(d.feed.codec.ClockRate) / 1e9)
		if ticks == 0 {
			ticks = 1
		}
		d.tsOffset = d.lastOutTS + ticks - ts
	}
}

// sourceExt maps a sequence number the viewer NACKed back to the cache index.
func (d *DownTrack) sourceExt(seq uint16) (uint64, bool) {
	if !d.sinceRebase || d.nextOut == 0 {
		return 0, false
	}
	last := d.nextOut - 1
	out := last - uint64(uint16(uint16(last)-seq))
	if out > last {
		return 0, false
	}
	ext := out + d.seqBase
	if ext < d.rebaseExt || ext > d.lastExt {
		return 0, false
	}
	return ext, true
}

// resend sends a cached packet again with the same rewrite it had the first time.
func (d *DownTrack) resend(hdr *rtp.Header, payload []byte, ext uint64) bool {
	if !d.bound.Load() {
		return false
	}
	hdr.SSRC = d.ssrc
	hdr.PayloadType = d.pt
	hdr.SequenceNumber = uint16(ext - d.seqBase)
	hdr.Timestamp += d.tsOffset
	if d.sel != nil && d.feed.codecKind == codec.VP8 {
		payload = d.vp8.munge(payload, false)
	}
	return d.write(hdr, payload, ext-d.seqBase) == nil
}

// write sends one rewritten packet: directly when the link allows, else
// through pion's track writer. Only the serving worker calls it.
// out is the packet's extended sequence number on the viewer's stream.
func (d *DownTrack) write(hdr *rtp.Header, payload []byte, out uint64) error {
	if !d.wrote {
		d.choosePath()
	}
	if d.direct != nil {
		err := d.direct.write(hdr, payload, out, d.sealScratch())
		if !errors.Is(err, errNoDirectPath) {
			return err
		}
	}
	_, err := d.writer.WriteRTP(hdr, payload)
	return err
}

// sealScratch is the serving worker's scratch for direct writes (a track's
// own outside a worker: tests and tools).
func (d *DownTrack) sealScratch() []byte {
	if s := d.shard.Load(); s != nil {
		return s.seal
	}
	if d.ownScratch == nil {
		d.ownScratch = make([]byte, sealBuffer)
	}
	return d.ownScratch
}

// choosePath runs at the down track's first packet: the direct path when
// its connection's keys are known by then (they are once DTLS is up, before
// any packet) and the viewer is reached over UDP, else pion's for good, so
// that one SRTP context owns the stream's rollover counter from the start.
// A direct track whose viewer later moves to ICE-TCP falls back to pion's
// writer packet by packet; pion's context then starts its rollover counter
// at 0, which is right until the track's 65,536th packet (known limit: a
// move after that breaks the viewer's decryption of the track).
func (d *DownTrack) choosePath() {
	d.wrote = true
	path := "pion"
	// A viewer reached over ICE-TCP starts (and stays) on pion's path.
	if d.link != nil && d.link.dest.Load() != nil {
		w, err := newDirectWriter(d.link)
		if err != nil {
			d.feed.log.Warn("media: direct srtp path unavailable", "err", err)
		} else if w != nil {
			d.direct = w
			d.directOn.Store(true)
			path = "direct"
		}
	}
	d.feed.downTracks.WithLabelValues(path).Inc()
}

// Direct reports whether the down track writes its SRTP itself (see sendLink).
func (d *DownTrack) Direct() bool { return d.directOn.Load() }

// RTCPReader is where a down track's feedback comes from: its *webrtc.RTPSender.
type RTCPReader interface {
	Read(b []byte) (int, interceptor.Attributes, error)
}

// ServeRTCP reads the viewer's feedback until the sender stops: PLI and FIR become
// (coalesced) keyframe requests to the publisher, NACKs are answered from the
// cache by the worker. Run it in its own goroutine; it ends when r fails.
func (d *DownTrack) ServeRTCP(r RTCPReader) {
	readRTCP(r, func(p rtcp.Packet) {
		switch p := p.(type) {
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			d.feed.stats.PLIsReceived.Add(1)
			d.feed.requestLayerKeyframe(int(d.curLayer.Load()))
		case *rtcp.ReceiverReport:
			if d.sel != nil {
				for _, r := range p.Reports {
					if r.SSRC == d.ssrc {
						d.sel.onReceiverReport(r.FractionLost, time.Now())
					}
				}
			}
		case *rtcp.TransportLayerNack:
			d.nack(p)
		case *rtcp.ReceiverEstimatedMaximumBitrate:
			d.feed.relayEstimate(p.Bitrate)
			if d.sel != nil {
				d.sel.onREMB(p.Bitrate)
			}
		}
	})
}

func (d *DownTrack) nack(p *rtcp.TransportLayerNack) {
	var seqs []uint16
	for _, pair := range p.Nacks {
		seqs = pair.PacketList()
		d.feed.stats.NACKsReceived.Add(uint64(len(seqs)))
		if !d.nackBudget.take(len(seqs), time.Now()) {
			continue // a viewer asking for more than any loss explains: its worker serves others too
		}
		if s := d.shard.Load(); s != nil {
			s.control(ctrlMsg{op: opNACK, track: d, seqs: seqs})
		}
	}
}

// maxNACKsPerSecond bounds the retransmissions one viewer may ask for: a 1.5
// Mbit/s video with 30 % loss needs about 50 a second. Beyond it a viewer is
// flooding, and its worker's time belongs to the others it serves.
const maxNACKsPerSecond = 400

// nackBudget counts a viewer's NACKed packets per second. Only the down track's
// RTCP goroutine uses it.
type nackBudget struct {
	windowStart time.Time
	used        int
}

func (b *nackBudget) take(n int, now time.Time) bool {
	if now.Sub(b.windowStart) >= time.Second {
		b.windowStart, b.used = now, 0
	}
	if b.used+n > maxNACKsPerSecond {
		return false
	}
	b.used += n
	return true
}
