package codec

// VP8Descriptor locates the fields of an RFC 7741 payload descriptor that an
// SFU rewrites when it switches a viewer between simulcast layers: each layer's
// encoder numbers its pictures on its own, and a decoder must never see the
// numbering jump.
type VP8Descriptor struct {
	PictureID    uint16 // 7 or 15 bits; valid when PictureIDLen > 0
	PictureIDLen int    // 0 (absent), 1 (7-bit) or 2 (15-bit)
	pictureIDAt  int
	TL0PicIdx    uint8 // valid when HasTL0PicIdx
	HasTL0PicIdx bool
	tl0At        int
	// Len is the descriptor's length: the VP8 payload header follows.
	Len int
}

// ParseVP8 parses the payload descriptor at the start of p.
func ParseVP8(p []byte) (VP8Descriptor, bool) {
	var d VP8Descriptor
	if len(p) < 1 {
		return d, false
	}
	i := 1
	if p[0]&0x80 != 0 { // X
		if len(p) < 2 {
			return d, false
		}
		x := p[1]
		i = 2
		if x&0x80 != 0 { // I
			if len(p) <= i {
				return d, false
			}
			d.pictureIDAt = i
			if p[i]&0x80 != 0 { // M: 15 bits
				if len(p) <= i+1 {
					return d, false
				}
				d.PictureID = uint16(p[i]&0x7f)<<8 | uint16(p[i+1])
				d.PictureIDLen = 2
				i += 2
			} else {
				d.PictureID = uint16(p[i] & 0x7f)
				d.PictureIDLen = 1
				i++
			}
		}
		if x&0x40 != 0 { // L
			if len(p) <= i {
				return d, false
			}
			d.TL0PicIdx, d.HasTL0PicIdx, d.tl0At = p[i], true, i
			i++
		}
		if x&0x30 != 0 { // T or K
			i++
		}
	}
	if len(p) < i {
		return d, false
	}
	d.Len = i
	return d, true
}

// SetPictureID writes id into p's picture ID field (truncated to its width).
func (d VP8Descriptor) SetPictureID(p []byte, id uint16) {
	switch d.PictureIDLen {
	case 1:
		p[d.pictureIDAt] = byte(id & 0x7f)
	case 2:
		p[d.pictureIDAt] = 0x80 | byte(id>>8)&0x7f
		p[d.pictureIDAt+1] = byte(id)
	}
}

// SetTL0PicIdx writes v into p's TL0PICIDX field, if it has one.
func (d VP8Descriptor) SetTL0PicIdx(p []byte, v uint8) {
	if d.HasTL0PicIdx {
		p[d.tl0At] = v
	}
}

// PictureIDMask is the range of the descriptor's picture ID.
func (d VP8Descriptor) PictureIDMask() uint16 {
	if d.PictureIDLen == 1 {
		return 0x7f
	}
	return 0x7fff
}

// VP8KeyframeSize returns the frame size a VP8 keyframe's header declares, from
// the packet that starts the keyframe (p is the RTP payload).
func VP8KeyframeSize(p []byte) (width, height uint16, ok bool) {
	d, ok := ParseVP8(p)
	if !ok || !vp8KeyframeStart(p) {
		return 0, 0, false
	}
	h := p[d.Len:]
	if len(h) < 10 || h[3] != 0x9d || h[4] != 0x01 || h[5] != 0x2a {
		return 0, 0, false
	}
	width = (uint16(h[6]) | uint16(h[7])<<8) & 0x3fff
	height = (uint16(h[8]) | uint16(h[9])<<8) & 0x3fff
	return width, height, true
}
