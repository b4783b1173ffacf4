package codec

import "testing"

func TestParseVP8RewritesInPlace(t *testing.T) {
	// X=1 S=1; I=1 L=1 T=1; 15-bit picture id 0x1234; TL0PICIDX 7; TID byte; VP8 keyframe header 320x180.
	p := []byte{0x90, 0xe0, 0x80 | 0x12, 0x34, 7, 0x20, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xb4, 0x00}
	d, ok := ParseVP8(p)
	if !ok || d.PictureID != 0x1234 || d.PictureIDLen != 2 || !d.HasTL0PicIdx || d.TL0PicIdx != 7 || d.Len != 6 {
		t.Fatalf("parsed %+v ok=%v", d, ok)
	}
	d.SetPictureID(p, 0x7fff)
	d.SetTL0PicIdx(p, 200)
	d2, _ := ParseVP8(p)
	if d2.PictureID != 0x7fff || d2.TL0PicIdx != 200 {
		t.Fatalf("after rewrite %+v", d2)
	}
	w, h, ok := VP8KeyframeSize(p)
	if !ok || w != 320 || h != 180 {
		t.Fatalf("keyframe size %dx%d ok=%v", w, h, ok)
	}
	// 7-bit picture ids wrap at 128.
	q := []byte{0x90, 0x80, 0x05, 0x00}
	d, ok = ParseVP8(q)
	if !ok || d.PictureIDLen != 1 || d.PictureIDMask() != 0x7f {
		t.Fatalf("7-bit: %+v", d)
	}
	d.SetPictureID(q, 130)
	if q[2] != 2 {
		t.Fatalf("7-bit rewrite wrote %#x", q[2])
	}
	for _, bad := range [][]byte{nil, {0x80}, {0x80, 0x80}, {0x80, 0x80, 0x80}, {0x80, 0x40}} {
		if _, ok := ParseVP8(bad); ok {
			t.Errorf("parsed truncated %x", bad)
		}
	}
}

func FuzzParseVP8(f *testing.F) {
	f.Add([]byte{0x90, 0xe0, 0x92, 0x34, 7, 0x20, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xb4, 0x00})
	f.Fuzz(func(t *testing.T, p []byte) {
		d, ok := ParseVP8(p)
		if !ok {
			return
		}
		if d.Len > len(p) {
			t.Fatalf("descriptor length %d beyond %d bytes", d.Len, len(p))
		}
		q := append([]byte(nil), p...)
		d.SetPictureID(q, d.PictureID)
		d.SetTL0PicIdx(q, d.TL0PicIdx)
		_, _, _ = VP8KeyframeSize(p)
	})
}
