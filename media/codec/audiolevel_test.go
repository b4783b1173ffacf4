package codec

import (
	"bytes"
	"testing"

	"github.com/pion/rtp"
)

// packetWith marshals an RTP packet carrying exts (id → data) in the given
// extension profile, with csrcs contributing sources.
func packetWith(t testing.TB, profile uint16, csrcs int, exts map[uint8][]byte) []byte {
	t.Helper()
	h := rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: 7, Timestamp: 960, SSRC: 99}
	for i := range csrcs {
		h.CSRC = append(h.CSRC, uint32(i+1))
	}
	if len(exts) > 0 {
		h.Extension = true
		h.ExtensionProfile = profile
		for id := uint8(1); id != 0; id++ {
			if d, ok := exts[id]; ok {
				if err := h.SetExtension(id, d); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	b, err := (&rtp.Packet{Header: h, Payload: []byte{0xf8, 1, 2, 3}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAudioLevel(t *testing.T) {
	for _, tc := range []struct {
		name        string
		pkt         []byte
		id          uint8
		level       uint8
		voice, want bool
	}{
		{"one-byte", packetWith(t, rtp.ExtensionProfileOneByte, 0, map[uint8][]byte{1: {0x80 | 42}}), 1, 42, true, true},
		{"one-byte among others", packetWith(t, rtp.ExtensionProfileOneByte, 2, map[uint8][]byte{3: {1, 2}, 5: {17}, 9: {1, 2, 3, 4}}), 5, 17, false, true},
		{"two-byte", packetWith(t, rtp.ExtensionProfileTwoByte, 1, map[uint8][]byte{2: {}, 20: {0x80 | 127}}), 20, 127, true, true},
		{"absent id", packetWith(t, rtp.ExtensionProfileOneByte, 0, map[uint8][]byte{1: {30}}), 2, 0, false, false},
		{"no extension", packetWith(t, rtp.ExtensionProfileOneByte, 0, nil), 1, 0, false, false},
		{"id zero", packetWith(t, rtp.ExtensionProfileOneByte, 0, map[uint8][]byte{1: {30}}), 0, 0, false, false},
		{"empty data", packetWith(t, rtp.ExtensionProfileTwoByte, 0, map[uint8][]byte{4: {}}), 4, 0, false, false},
		{"not rtp", []byte{0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde, 0, 1, 0x10, 5, 0, 0}, 1, 0, false, false},
		{"truncated", packetWith(t, rtp.ExtensionProfileOneByte, 0, map[uint8][]byte{1: {30}})[:14], 1, 0, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			level, voice, ok := AudioLevel(tc.pkt, tc.id)
			if ok != tc.want || level != tc.level || voice != tc.voice {
				t.Fatalf("AudioLevel = %d, %v, %v; want %d, %v, %v", level, voice, ok, tc.level, tc.voice, tc.want)
			}
		})
	}
}

func TestHeaderExtensionPaddingAndStop(t *testing.T) {
	// One-byte elements with padding bytes between them, then id 15, which
	// ends the walk: the element after it is not read.
	pkt := []byte{0x90, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2,
		0xbe, 0xde, 0, 2,
		0x00, 0x10, 7, 0x00, 0xf0, 0x20, 9, 0}
	if d, ok := HeaderExtension(pkt, 1); !ok || !bytes.Equal(d, []byte{7}) {
		t.Fatalf("id 1: %v %v", d, ok)
	}
	if _, ok := HeaderExtension(pkt, 2); ok {
		t.Fatal("id 2 read past the stop id 15")
	}
}

func TestAudioLevelAllocatesNothing(t *testing.T) {
	pkt := packetWith(t, rtp.ExtensionProfileOneByte, 0, map[uint8][]byte{3: {1, 2}, 1: {0x80 | 42}})
	if n := testing.AllocsPerRun(100, func() { AudioLevel(pkt, 1) }); n != 0 {
		t.Fatalf("%v allocations per call", n)
	}
}

func BenchmarkAudioLevel(b *testing.B) {
	pkt := packetWith(b, rtp.ExtensionProfileOneByte, 0, map[uint8][]byte{3: {1, 2}, 1: {0x80 | 42}})
	for b.Loop() {
		AudioLevel(pkt, 1)
	}
}

// FuzzAudioLevel checks the parser never panics and agrees with pion's
// header parser wherever pion accepts the packet.
func FuzzAudioLevel(f *testing.F) {
	f.Add(packetWith(f, rtp.ExtensionProfileOneByte, 0, map[uint8][]byte{1: {0x80 | 42}}), uint8(1))
	f.Add(packetWith(f, rtp.ExtensionProfileOneByte, 3, map[uint8][]byte{2: {1}, 5: {1, 2, 3}}), uint8(5))
	f.Add(packetWith(f, rtp.ExtensionProfileTwoByte, 0, map[uint8][]byte{1: {}, 30: {9}}), uint8(30))
	f.Add([]byte{0x90, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0xbe, 0xde, 0, 1, 0x00, 0x10, 7, 0}, uint8(1))
	f.Fuzz(func(t *testing.T, pkt []byte, id uint8) {
		data, ok := HeaderExtension(pkt, id)
		level, _, lok := AudioLevel(pkt, id)
		if lok != (ok && len(data) > 0) || (lok && level != data[0]&0x7f) {
			t.Fatalf("AudioLevel %d %v disagrees with HeaderExtension %v %v", level, lok, data, ok)
		}
		var h rtp.Header
		if _, err := h.Unmarshal(pkt); err != nil || h.Version != 2 || !h.Extension || id == 0 {
			return
		}
		if h.ExtensionProfile != rtp.ExtensionProfileOneByte && h.ExtensionProfile != rtp.ExtensionProfileTwoByte {
			return
		}
		if h.ExtensionProfile == rtp.ExtensionProfileOneByte && id > 14 {
			if ok {
				t.Fatalf("one-byte id %d found", id)
			}
			return
		}
		want := h.GetExtension(id)
		if ok != (want != nil) || !bytes.Equal(data, want) {
			t.Fatalf("id %d: got %v %v, pion %v", id, data, ok, want)
		}
	})
}
