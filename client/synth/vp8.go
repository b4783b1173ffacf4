package synth

// putDescriptor writes the 4-byte RFC 7741 payload descriptor: X=1, S on the
// first packet of a frame, PID=0, I=1 and a 15-bit picture id (M=1).
func putDescriptor(b []byte, first bool, pictureID uint16) int {
	_ = b[vp8DescriptorLen-1]
	b[0] = 0x80
	if first {
		b[0] |= 0x10
	}
	b[1] = 0x80
	b[2] = 0x80 | byte(pictureID>>8)&0x7f
	b[3] = byte(pictureID)
	return vp8DescriptorLen
}

// putVP8Header writes the VP8 frame tag (RFC 6386 section 9.1: P bit,
// version 0, show_frame, 19-bit first partition size) and, for keyframes,
// the start code and dimensions, so the frame passes keyframe detectors.
func (v *Video) putVP8Header(b []byte, key bool, firstPart int) int {
	tag := uint32(firstPart)<<5 | 1<<4 // show_frame=1, version 0
	if !key {
		tag |= 1 // P bit: inter frame
	}
	_ = b[vp8DeltaHeaderLen-1]
	b[0], b[1], b[2] = byte(tag), byte(tag>>8), byte(tag>>16)
	if !key {
		return vp8DeltaHeaderLen
	}
	_ = b[vp8KeyHeaderLen-1]
	b[3], b[4], b[5] = 0x9d, 0x01, 0x2a
	b[6], b[7] = byte(v.cfg.Width), byte(v.cfg.Width>>8)
	b[8], b[9] = byte(v.cfg.Height), byte(v.cfg.Height>>8)
	return vp8KeyHeaderLen
}
