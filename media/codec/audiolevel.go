package codec

import "encoding/binary"

// AudioLevelURI names the RFC 6464 client-to-mixer audio level header
// extension in SDP (a=extmap); its id is negotiated per connection.
const AudioLevelURI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

// SilentLevel is the quietest audio level RFC 6464 expresses: -127 dBov.
const SilentLevel = 127

// AudioLevel returns the RFC 6464 audio level a full RTP packet carries in
// its header extension element id: level is in -dBov (0 is the loudest, 127
// silence) and voice is the sender's voice-activity flag. ok is false when
// the packet carries no such element or is malformed.
func AudioLevel(pkt []byte, id uint8) (level uint8, voice, ok bool) {
	data, ok := HeaderExtension(pkt, id)
	if !ok || len(data) == 0 {
		return 0, false, false
	}
	return data[0] & 0x7f, data[0]&0x80 != 0, true
}

// HeaderExtension returns the data of element id of a full RTP packet's
// header extension, in either RFC 8285 form (one-byte elements, ids 1–14, or
// two-byte elements, ids 1–255). The data aliases pkt.
func HeaderExtension(pkt []byte, id uint8) ([]byte, bool) {
	if id == 0 || len(pkt) < 12 || pkt[0]>>6 != 2 || pkt[0]&0x10 == 0 {
		return nil, false
	}
	off := 12 + 4*int(pkt[0]&0x0f)
	if len(pkt) < off+4 {
		return nil, false
	}
	profile := binary.BigEndian.Uint16(pkt[off:])
	end := off + 4 + 4*int(binary.BigEndian.Uint16(pkt[off+2:]))
	if end > len(pkt) {
		return nil, false
	}
	ext := pkt[off+4 : end]
	switch {
	case profile == 0xbede:
		return oneByteElement(ext, id)
	case profile&0xfff0 == 0x1000:
		return twoByteElement(ext, id)
	}
	return nil, false
}

// oneByteElement walks one-byte header elements: a byte of id (4 bits) and
// length minus one (4 bits), then the data. A zero byte is padding; id 15,
// or id 0 with a length, ends the walk.
func oneByteElement(ext []byte, id uint8) ([]byte, bool) {
	if id > 14 {
		return nil, false
	}
	for i := 0; i < len(ext); {
		h := ext[i]
		if h == 0 {
			i++
			continue
		}
		eid := h >> 4
		if eid == 0 || eid == 15 {
			return nil, false
		}
		n := int(h&0x0f) + 1
		i++
		if i+n > len(ext) {
			return nil, false
		}
		if eid == id {
			return ext[i : i+n], true
		}
		i += n
	}
	return nil, false
}

// twoByteElement walks two-byte header elements: a byte of id, a byte of
// length, then the data. Id 0 is a padding byte.
func twoByteElement(ext []byte, id uint8) ([]byte, bool) {
	for i := 0; i < len(ext); {
		eid := ext[i]
		if eid == 0 {
			i++
			continue
		}
		if i+2 > len(ext) {
			return nil, false
		}
		n := int(ext[i+1])
		i += 2
		if i+n > len(ext) {
			return nil, false
		}
		if eid == id {
			return ext[i : i+n], true
		}
		i += n
	}
	return nil, false
}
