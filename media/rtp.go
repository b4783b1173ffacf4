package media

import "encoding/binary"

// parseRTP returns a packet's sequence number and payload without allocating;
// ok is false for anything that is not a well-formed RTP packet.
func parseRTP(b []byte) (seq uint16, payload []byte, ok bool) {
	if len(b) < 12 || b[0]>>6 != 2 {
		return 0, nil, false
	}
	off := 12 + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 {
		if len(b) < off+4 {
			return 0, nil, false
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(b[off+2:]))
	}
	end := len(b)
	if b[0]&0x20 != 0 && end > 0 {
		end -= int(b[end-1])
	}
	if off > end {
		return 0, nil, false
	}
	return binary.BigEndian.Uint16(b[2:]), b[off:end], true
}

// rtpTimestamp reads the timestamp of a packet parseRTP accepted.
func rtpTimestamp(b []byte) uint32 { return binary.BigEndian.Uint32(b[4:]) }
