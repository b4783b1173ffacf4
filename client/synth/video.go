package synth

import (
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

const (
	videoClockRate = 90000

	defaultVideoBitrate     = 1_500_000
	defaultFPS              = 30
	defaultKeyframeInterval = 2 * time.Second
	defaultKeyframeScale    = 4
	defaultMaxPayload       = 1100
	defaultVideoPT          = 96
	defaultWidth            = 1280
	defaultHeight           = 720

	// minMaxPayload keeps every packet of a split frame big enough for the
	// descriptor, the VP8 header and the stamp (see splitting in NextFrame):
	// half of it must hold minFrameSize.
	minMaxPayload = 2 * ((minFrameSize + 3) &^ 3)

	vp8DescriptorLen  = 4  // X=1, I=1, M=1: two-byte picture id
	vp8KeyHeaderLen   = 10 // frame tag + start code + width + height
	vp8DeltaHeaderLen = 3  // frame tag only

	// minFrameSize is the smallest frame that still carries a full first
	// packet; tiny bitrates are rounded up to it.
	minFrameSize = vp8DescriptorLen + vp8KeyHeaderLen + stampLen
)

// VideoConfig describes a synthetic VP8 stream. Zero values select the
// defaults noted on each field, so VideoConfig{} is a 720p30 1.5 Mbps camera.
type VideoConfig struct {
	// Bitrate is the target RTP payload rate in bits per second; default
	// 1_500_000. Very low values are rounded up so that each frame can hold
	// its headers and stamp.
	Bitrate int
	// FPS is the frame rate; default 30.
	FPS int
	// KeyframeInterval is the time between scheduled keyframes; 0 means the
	// default of 2s, negative means only the first frame is a keyframe
	// (later keyframes come only from RequestKeyframe).
	KeyframeInterval time.Duration
	// KeyframeScale is how many times larger a keyframe is than a delta
	// frame, as with real encoders; default 4. Sizes are chosen so that the
	// average over a keyframe interval still matches Bitrate.
	KeyframeScale int
	// MaxPayload is the largest RTP payload per packet in bytes, descriptor
	// included; default 1100, and values below 72 are raised to 72.
	MaxPayload int
	// PayloadType is the RTP payload type; default 96.
	PayloadType uint8
	// SSRC identifies the stream; default a random non-zero value.
	SSRC uint32
	// FirstSeq is the first sequence number (tests use values near 65535 to
	// exercise wraparound).
	FirstSeq uint16
	// FirstTimestamp is the RTP timestamp of the first frame.
	FirstTimestamp uint32
	// FirstPictureID is the first VP8 picture id (15 bits; higher bits are
	// ignored), letting tests exercise picture id wraparound.
	FirstPictureID uint16
	// Width and Height go into keyframe headers; default 1280x720, at most
	// 16383 each (14-bit fields).
	Width, Height int
	// Now, if set, stamps every packet of a frame with the time the frame
	// was built (Stamp.SentAt), which Pace sends at once, so a receiver on the
	// same clock can measure latency; nil leaves SentAt 0 and the output
	// deterministic.
	Now func() time.Time
}

// Video produces a synthetic VP8 stream frame by frame. NextFrame must be
// called from one goroutine at a time; RequestKeyframe may be called from any.
type Video struct {
	cfg       VideoConfig
	keyEvery  uint64  // frames between scheduled keyframes; 0 = never
	deltaSize float64 // target payload bytes of a delta frame
	keySize   float64 // target payload bytes of a keyframe
	carry     float64 // rounding error carried to the next frame

	frame     uint64 // number of the next frame
	sinceKey  uint64 // frames since the last keyframe
	seq       uint16
	pictureID uint16
	keyReq    atomic.Bool

	buf  []byte       // one MaxPayload slot per packet
	fill []byte       // deterministic filler pattern, MaxPayload long
	pkts []rtp.Packet // reused packets
	out  []*rtp.Packet
}

// NewVideo returns a Video for cfg, with defaults applied and every buffer
// it will ever need allocated up front.
func NewVideo(cfg VideoConfig) *Video {
	if cfg.Bitrate <= 0 {
		cfg.Bitrate = defaultVideoBitrate
	}
	if cfg.FPS <= 0 {
		cfg.FPS = defaultFPS
	}
	if cfg.KeyframeInterval == 0 {
		cfg.KeyframeInterval = defaultKeyframeInterval
	}
	if cfg.KeyframeScale <= 0 {
		cfg.KeyframeScale = defaultKeyframeScale
	}
	if cfg.MaxPayload <= 0 {
		cfg.MaxPayload = defaultMaxPayload
	}
	cfg.MaxPayload = max(cfg.MaxPayload, minMaxPayload)
	if cfg.PayloadType == 0 {
		cfg.PayloadType = defaultVideoPT
	}
	if cfg.SSRC == 0 {
		cfg.SSRC = randomSSRC()
	}
	if cfg.Width <= 0 {
		cfg.Width = defaultWidth
	}
	if cfg.Height <= 0 {
		cfg.Height = defaultHeight
	}
	cfg.Width = min(cfg.Width, 0x3fff)
	cfg.Height = min(cfg.Height, 0x3fff)

	v := &Video{
		cfg:       cfg,
		seq:       cfg.FirstSeq,
		pictureID: cfg.FirstPictureID & 0x7fff,
	}
	perFrame := float64(cfg.Bitrate) / 8 / float64(cfg.FPS)
	scale := float64(cfg.KeyframeScale)
	if cfg.KeyframeInterval > 0 {
		n := max(1, int64(math.Round(cfg.KeyframeInterval.Seconds()*float64(cfg.FPS))))
		v.keyEvery = uint64(n)
		// One keyframe and n-1 delta frames per interval must add up to n
		// average frames.
		v.deltaSize = perFrame * float64(n) / (float64(n-1) + scale)
	} else {
		v.deltaSize = perFrame
	}
	v.keySize = v.deltaSize * scale

	maxFrame := max(int(math.Ceil(v.keySize))+1, minFrameSize)
	maxPkts := (maxFrame + cfg.MaxPayload - 1) / cfg.MaxPayload
	v.buf = make([]byte, maxPkts*cfg.MaxPayload)
	v.pkts = make([]rtp.Packet, maxPkts)
	v.out = make([]*rtp.Packet, maxPkts)
	v.fill = make([]byte, cfg.MaxPayload)
	for i := range v.fill {
		v.fill[i] = byte(i*131 + 7)
	}
	return v
}

// randomSSRC picks a non-zero SSRC so independently created streams are
// unlikely to collide, as RFC 3550 expects.
func randomSSRC() uint32 {
	for {
		if s := rand.Uint32(); s != 0 {
			return s
		}
	}
}

// SSRC returns the stream's SSRC, which receivers need when it was chosen at
// random.
func (v *Video) SSRC() uint32 { return v.cfg.SSRC }

// FrameInterval returns the time between frames, for pacing.
func (v *Video) FrameInterval() time.Duration {
	return time.Second / time.Duration(v.cfg.FPS)
}

// RequestKeyframe makes the next frame a keyframe, as an encoder does on a
// PLI or FIR. It is safe to call from any goroutine. A requested keyframe
// restarts the keyframe interval.
func (v *Video) RequestKeyframe() { v.keyReq.Store(true) }

// NextFrame builds the next frame's packets. The returned slice and packets
// are reused by the next call, so they are valid only until then.
//
// Each packet carries an RFC 7741 descriptor (X=1, I=1, 15-bit picture id
// incrementing per frame, S=1 and PID=0 on the first packet), then on the
// first packet a VP8 payload header whose P bit is clear on keyframes (which
// also carry the start code and dimensions), then a Stamp and filler. The
// marker bit is set on the last packet, all packets share the frame's RTP
// timestamp, and sequence numbers continue (wrapping) across frames. The
// timestamp of frame n is FirstTimestamp + n*90000/FPS, so it advances by
// exactly 90000/FPS when FPS divides 90000.
func (v *Video) NextFrame() []*rtp.Packet {
	req := v.keyReq.Swap(false)
	key := req || v.frame == 0 || (v.keyEvery > 0 && v.sinceKey >= v.keyEvery)
	if key {
		v.sinceKey = 0
	}
	v.sinceKey++

	target := v.deltaSize
	if key {
		target = v.keySize
	}
	target += v.carry
	size := int(target)
	v.carry = target - float64(size)
	if size < minFrameSize {
		size, v.carry = minFrameSize, 0
	}

	// Split evenly so no packet exceeds MaxPayload. With MaxPayload >= 72
	// every packet of a multi-packet frame holds at least 36 bytes, enough
	// for descriptor, VP8 header and stamp.
	m := v.cfg.MaxPayload
	n := (size + m - 1) / m
	base, extra := size/n, size%n

	headerLen := vp8DeltaHeaderLen
	if key {
		headerLen = vp8KeyHeaderLen
	}
	firstPart := min(size-n*vp8DescriptorLen-headerLen, 0x7ffff)
	ts := v.cfg.FirstTimestamp + uint32(v.frame*videoClockRate/uint64(v.cfg.FPS))
	var sentAt int64
	if v.cfg.Now != nil {
		sentAt = v.cfg.Now().UnixNano()
	}

	for i := range n {
		l := base
		if i < extra {
			l++
		}
		start := i * m
		payload := v.buf[start : start+l : start+l]
		pos := putDescriptor(payload, i == 0, v.pictureID)
		if i == 0 {
			pos += v.putVP8Header(payload[pos:], key, firstPart)
		}
		pos += putStamp(payload[pos:], videoMagic, Stamp{
			Frame:    uint32(v.frame),
			Index:    uint16(i),
			Keyframe: key,
			OrigSeq:  v.seq,
			SentAt:   sentAt,
		})
		copy(payload[pos:], v.fill)

		p := &v.pkts[i]
		*p = rtp.Packet{
			Header: rtp.Header{
				Version:        2,
				Marker:         i == n-1,
				PayloadType:    v.cfg.PayloadType,
				SequenceNumber: v.seq,
				Timestamp:      ts,
				SSRC:           v.cfg.SSRC,
			},
			Payload: payload,
		}
		v.out[i] = p
		v.seq++
	}

	v.frame++
	v.pictureID = (v.pictureID + 1) & 0x7fff
	return v.out[:n:n]
}
