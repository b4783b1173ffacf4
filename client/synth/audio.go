package synth

import (
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

const (
	// audioPacketTicks is 20 ms at Opus's 48 kHz RTP clock.
	audioPacketTicks   = 960
	audioPacketPeriod  = 20 * time.Millisecond
	defaultAudioPT     = 111
	defaultAudioSize   = 120
	minAudioPacketSize = 1 + stampLen

	// opusTOC is the first payload byte: config 15 (hybrid, fullband,
	// 20 ms), mono, one frame, which is what browsers send for speech.
	opusTOC = 15 << 3
)

// AudioConfig describes a synthetic Opus-like stream of 20 ms packets. Zero
// values select the defaults noted on each field.
type AudioConfig struct {
	// PayloadType is the RTP payload type; default 111.
	PayloadType uint8
	// SSRC identifies the stream; default a random non-zero value.
	SSRC uint32
	// FirstSeq is the first sequence number.
	FirstSeq uint16
	// FirstTimestamp is the RTP timestamp of the first packet.
	FirstTimestamp uint32
	// PacketSize is the payload bytes per 20 ms packet; default 120 (about
	// 48 kbps), and values below 22 are raised to fit the TOC byte and stamp.
	PacketSize int
	// Now, if set, stamps each packet with its send time (Stamp.SentAt) so a
	// receiver on the same clock can measure latency; nil leaves SentAt 0 and
	// the output deterministic.
	Now func() time.Time
	// Level is how loud the stream starts, in -dBov as RFC 6464 counts it:
	// 0 (the default) is full scale, 127 silence. See SetLevel.
	Level uint8
}

// Audio produces a synthetic Opus-like stream packet by packet. NextPacket
// must be called from one goroutine at a time.
type Audio struct {
	cfg    AudioConfig
	n      uint32 // number of the next packet
	seq    uint16
	ts     uint32
	buf    []byte
	packet rtp.Packet
	level  atomic.Uint32 // -dBov, see SetLevel
}

// NewAudio returns an Audio for cfg with defaults applied and its single
// packet buffer allocated up front.
func NewAudio(cfg AudioConfig) *Audio {
	if cfg.PayloadType == 0 {
		cfg.PayloadType = defaultAudioPT
	}
	if cfg.SSRC == 0 {
		cfg.SSRC = randomSSRC()
	}
	if cfg.PacketSize <= 0 {
		cfg.PacketSize = defaultAudioSize
	}
	cfg.PacketSize = max(cfg.PacketSize, minAudioPacketSize)
	a := &Audio{
		cfg: cfg,
		seq: cfg.FirstSeq,
		ts:  cfg.FirstTimestamp,
		buf: make([]byte, cfg.PacketSize),
	}
	for i := range a.buf {
		a.buf[i] = byte(i*67 + 3)
	}
	a.buf[0] = opusTOC
	a.SetLevel(cfg.Level)
	return a
}

// SetLevel sets how loud the stream is from now on, in -dBov (0 loudest, 127
// and above silence). The payload does not change: a sender puts the level
// in each packet's audio level header extension (see AudioLevelByte). Safe
// to call while another goroutine paces the stream.
func (a *Audio) SetLevel(dBov uint8) { a.level.Store(uint32(min(dBov, 127))) }

// Level is the stream's current level in -dBov.
func (a *Audio) Level() uint8 { return uint8(a.level.Load()) }

// AudioLevelByte is the one byte of an RFC 6464 audio level header
// extension for level (-dBov): the level, with the voice-activity flag set
// unless it is silence.
func AudioLevelByte(level uint8) byte {
	level = min(level, 127)
	if level < 127 {
		return 0x80 | level
	}
	return level
}

// SSRC returns the stream's SSRC, which receivers need when it was chosen at
// random.
func (a *Audio) SSRC() uint32 { return a.cfg.SSRC }

// PacketInterval returns the time each packet covers (20 ms), for pacing.
func (a *Audio) PacketInterval() time.Duration { return audioPacketPeriod }

// NextPacket returns the next 20 ms packet: the timestamp advances by 960
// (48 kHz) per packet, sequence numbers continue (wrapping) and the marker
// is never set. The packet and its payload are reused by the next call, so
// they are valid only until then.
func (a *Audio) NextPacket() *rtp.Packet {
	a.buf[0] = opusTOC
	var sentAt int64
	if a.cfg.Now != nil {
		sentAt = a.cfg.Now().UnixNano()
	}
	putStamp(a.buf[1:], audioMagic, Stamp{Frame: a.n, OrigSeq: a.seq, SentAt: sentAt})
	a.packet = rtp.Packet{
		Header: rtp.Header{
			Version:        2,
			PayloadType:    a.cfg.PayloadType,
			SequenceNumber: a.seq,
			Timestamp:      a.ts,
			SSRC:           a.cfg.SSRC,
		},
		Payload: a.buf[:len(a.buf):len(a.buf)],
	}
	a.n++
	a.seq++
	a.ts += audioPacketTicks
	return &a.packet
}
