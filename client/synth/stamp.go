package synth

import "encoding/binary"

// stampLen is the encoded size of a Stamp: magic(4) frame(4) index(2)
// keyframe(1) origSeq(2) sentAt(8).
const stampLen = 21

// Distinct magics let a receiver tell video from audio payloads and reject
// anything this package did not produce.
var (
	videoMagic = [4]byte{'T', 'R', 'S', 'V'}
	audioMagic = [4]byte{'T', 'R', 'S', 'A'}
)

// Stamp is the identity a generator writes into each payload, so that a
// receiver can check integrity and ordering even after the SFU has rewritten
// the RTP header.
type Stamp struct {
	// Frame is the frame (video) or packet (audio) number, counting from 0.
	Frame uint32
	// Index is the packet's position within its frame (always 0 for audio).
	Index uint16
	// Keyframe reports whether the packet belongs to a keyframe.
	Keyframe bool
	// OrigSeq is the RTP sequence number the generator gave the packet.
	OrigSeq uint16
	// SentAt is the wall-clock time the generator built the packet, in Unix
	// nanoseconds, or 0 when its config has no Now function. A receiver
	// sharing the sender's clock (the load generator's host and viewers run
	// in one process) gets the end-to-end latency as arrival minus SentAt.
	SentAt int64
}

// putStamp encodes s after magic into b, which must hold stampLen bytes, and
// returns the number of bytes written.
func putStamp(b []byte, magic [4]byte, s Stamp) int {
	_ = b[stampLen-1]
	copy(b, magic[:])
	binary.BigEndian.PutUint32(b[4:], s.Frame)
	binary.BigEndian.PutUint16(b[8:], s.Index)
	b[10] = 0
	if s.Keyframe {
		b[10] = 1
	}
	binary.BigEndian.PutUint16(b[11:], s.OrigSeq)
	binary.BigEndian.PutUint64(b[13:], uint64(s.SentAt))
	return stampLen
}

// getStamp decodes a stamp with the given magic from the start of b.
func getStamp(b []byte, magic [4]byte) (Stamp, bool) {
	if len(b) < stampLen || [4]byte(b[:4]) != magic || b[10] > 1 {
		return Stamp{}, false
	}
	return Stamp{
		Frame:    binary.BigEndian.Uint32(b[4:]),
		Index:    binary.BigEndian.Uint16(b[8:]),
		Keyframe: b[10] == 1,
		OrigSeq:  binary.BigEndian.Uint16(b[11:]),
		SentAt:   int64(binary.BigEndian.Uint64(b[13:])),
	}, true
}

// ReadVideoStamp parses the stamp from a VP8 RTP payload produced by Video,
// skipping the RFC 7741 payload descriptor (whatever optional fields it
// carries, since an SFU may rewrite it) and, on the first packet of a frame,
// the VP8 payload header. It reports ok=false for anything else, including a
// first packet whose VP8 keyframe bit disagrees with the stamp, and never
// panics.
func ReadVideoStamp(payload []byte) (Stamp, bool) {
	if len(payload) < 1 {
		return Stamp{}, false
	}
	b0 := payload[0]
	first := b0&0x10 != 0 && b0&0x07 == 0 // S=1 and PID=0
	off := 1
	if b0&0x80 != 0 { // X: extension byte follows
		if len(payload) < 2 {
			return Stamp{}, false
		}
		x := payload[1]
		off = 2
		if x&0x80 != 0 { // I: picture id, 1 or 2 bytes (M bit)
			if len(payload) <= off {
				return Stamp{}, false
			}
			if payload[off]&0x80 != 0 {
				off += 2
			} else {
				off++
			}
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			off++
		}
		if x&0x30 != 0 { // T or K: TID/Y/KEYIDX byte
			off++
		}
	}
	if off > len(payload) {
		return Stamp{}, false
	}
	rest := payload[off:]
	key := false
	if first {
		if len(rest) < vp8DeltaHeaderLen {
			return Stamp{}, false
		}
		key = rest[0]&0x01 == 0 // P bit clear means keyframe
		if key {
			if len(rest) < vp8KeyHeaderLen || rest[3] != 0x9d || rest[4] != 0x01 || rest[5] != 0x2a {
				return Stamp{}, false
			}
			rest = rest[vp8KeyHeaderLen:]
		} else {
			rest = rest[vp8DeltaHeaderLen:]
		}
	}
	s, ok := getStamp(rest, videoMagic)
	if !ok || (s.Index == 0) != first || (first && s.Keyframe != key) {
		return Stamp{}, false
	}
	return s, true
}

// ReadAudioStamp parses the stamp from an RTP payload produced by Audio,
// reporting ok=false for anything else. It never panics.
func ReadAudioStamp(payload []byte) (Stamp, bool) {
	if len(payload) < 1+stampLen || payload[0] != opusTOC {
		return Stamp{}, false
	}
	s, ok := getStamp(payload[1:], audioMagic)
	if !ok || s.Index != 0 || s.Keyframe {
		return Stamp{}, false
	}
	return s, true
}
