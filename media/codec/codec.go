// Package codec inspects RTP payloads just enough for an SFU to find
// keyframe starts: a new subscriber, or one recovering from loss, must begin
// forwarding at a keyframe or its decoder shows garbage.
//
// Every function is allocation-free and total: short or malformed payloads
// return false rather than panic, because payloads come from the network.
package codec

import "strings"

// Kind identifies a codec family by MIME type, so per-packet code can switch
// on a small integer instead of comparing strings.
type Kind uint8

// Codec families the SFU understands; anything else is Unknown.
const (
	Unknown Kind = iota
	Opus
	VP8
	VP9
	H264
)

// String returns the MIME type of k, or "unknown".
func (k Kind) String() string {
	switch k {
	case Opus:
		return "audio/opus"
	case VP8:
		return "video/VP8"
	case VP9:
		return "video/VP9"
	case H264:
		return "video/H264"
	}
	return "unknown"
}

// KindOf maps a MIME type such as "video/VP8" (case-insensitive, as SDP
// encoding names are) to its Kind.
func KindOf(mime string) Kind {
	for k := Opus; k <= H264; k++ {
		if strings.EqualFold(mime, k.String()) {
			return k
		}
	}
	return Unknown
}

// IsKeyframeStart reports whether payload (an RTP payload, without the RTP
// header) is the first RTP packet of a keyframe for codec k. Opus always
// returns true since every packet decodes on its own; Unknown returns false.
func IsKeyframeStart(k Kind, payload []byte) bool {
	switch k {
	case Opus:
		return true
	case VP8:
		return vp8KeyframeStart(payload)
	case VP9:
		return vp9KeyframeStart(payload)
	case H264:
		return h264KeyframeStart(payload)
	}
	return false
}

// vp8KeyframeStart parses the RFC 7741 payload descriptor and checks the P
// (inverse keyframe) bit of the first byte of the VP8 payload header, which
// is only present in the packet that starts partition 0 (S=1, PID=0).
func vp8KeyframeStart(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	b := p[0]
	if b&0x10 == 0 || b&0x07 != 0 { // S=1 and PID=0
		return false
	}
	i := 1
	if b&0x80 != 0 { // X: extension byte with I, L, T, K
		if len(p) < 2 {
			return false
		}
		x := p[1]
		i = 2
		if x&0x80 != 0 { // I: picture ID, 15 bits if M is set
			if len(p) <= i {
				return false
			}
			if p[i]&0x80 != 0 {
				i += 2
			} else {
				i++
			}
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if x&0x30 != 0 { // T or K: TID/Y/KEYIDX
			i++
		}
	}
	return len(p) > i && p[i]&0x01 == 0
}

// vp9KeyframeStart parses the VP9 payload descriptor (RFC 9628): a keyframe
// starts at a packet beginning a frame (B=1) without inter-picture
// prediction (P=0). With spatial layers only the base layer (SID=0) starts
// the keyframe; upper layers' frames also have B=1, P=0. The optional fields
// are walked so that a truncated descriptor is rejected.
func vp9KeyframeStart(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	b := p[0]
	if b&0x08 == 0 || b&0x40 != 0 { // B=1 and P=0
		return false
	}
	i := 1
	if b&0x80 != 0 { // I: picture ID, 15 bits if M is set
		if len(p) <= i {
			return false
		}
		if p[i]&0x80 != 0 {
			i += 2
		} else {
			i++
		}
	}
	if b&0x20 != 0 { // L: layer indices
		if len(p) <= i || (p[i]>>1)&0x07 != 0 { // SID must be 0
			return false
		}
		i++
		if b&0x10 == 0 { // non-flexible mode carries TL0PICIDX
			i++
		}
	}
	// P=0, so flexible mode carries no P_DIFF bytes.
	if b&0x02 != 0 { // V: scalability structure
		var ok bool
		if i, ok = skipVP9SS(p, i); !ok {
			return false
		}
	}
	return len(p) > i
}

// skipVP9SS returns the offset just past the scalability structure starting
// at p[i], or ok=false if it is truncated.
func skipVP9SS(p []byte, i int) (int, bool) {
	if len(p) <= i {
		return 0, false
	}
	ss := p[i]
	i++
	if ss&0x10 != 0 { // Y: width and height per spatial layer
		i += (int(ss>>5) + 1) * 4
	}
	if ss&0x08 != 0 { // G: picture group description
		if len(p) <= i {
			return 0, false
		}
		ng := int(p[i])
		i++
		for range ng {
			if len(p) <= i {
				return 0, false
			}
			i += 1 + int(p[i]>>2&0x03) // R reference P_DIFFs follow
		}
	}
	return i, len(p) >= i
}

// H.264 NAL unit types (RFC 6184) relevant to keyframe detection.
const (
	nalIDR   = 5
	nalSPS   = 7
	nalSTAPA = 24
	nalFUA   = 28
)

// h264Key reports whether a NAL unit type starts a decodable picture: an
// IDR slice, or an SPS, which encoders send immediately before an IDR.
func h264Key(t byte) bool { return t == nalIDR || t == nalSPS }

// h264KeyframeStart handles single NAL units, STAP-A aggregates and FU-A
// fragments (RFC 6184); other packetizations are reported as false.
func h264KeyframeStart(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	switch t := p[0] & 0x1f; {
	case t >= 1 && t <= 23:
		return h264Key(t)
	case t == nalSTAPA:
		for i := 1; i+2 <= len(p); {
			size := int(p[i])<<8 | int(p[i+1])
			i += 2
			if size == 0 || i+size > len(p) {
				return false
			}
			if h264Key(p[i] & 0x1f) {
				return true
			}
			i += size
		}
		return false
	case t == nalFUA:
		return len(p) >= 2 && p[1]&0x80 != 0 && h264Key(p[1]&0x1f)
	}
	return false
}
