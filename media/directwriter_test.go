package media

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// directPair is a direct writer with fixed keys for profile sending through
// a BatchConn to rx, and a pion context that decrypts what rx gets.
func directPair(t *testing.T, profile srtp.ProtectionProfile) (*directWriter, *BatchConn, *srtp.Context, func() []byte) {
	t.Helper()
	c, rx, addr := pair(t)
	keyLen, _ := profile.KeyLen()
	saltLen, _ := profile.SaltLen()
	key, salt := bytes.Repeat([]byte{7}, keyLen), bytes.Repeat([]byte{9}, saltLen)
	l := &sendLink{}
	l.keys.Store(&srtpKeys{key: key, salt: salt, profile: profile})
	l.dest.Store(&linkDest{conn: c, addr: addr})
	w, err := newDirectWriter(l)
	if err != nil || w == nil {
		t.Fatalf("direct writer: %v", err)
	}
	dec, err := srtp.CreateContext(key, salt, profile)
	if err != nil {
		t.Fatal(err)
	}
	next := func() []byte { return receive(t, rx, 1)[0] }
	return w, c, dec, next
}

var directProfiles = []srtp.ProtectionProfile{
	srtp.ProtectionProfileAeadAes128Gcm,
	srtp.ProtectionProfileAeadAes256Gcm,
	srtp.ProtectionProfileAes128CmHmacSha1_80,
}

// What the direct path sends is the packet, encrypted with the link's keys
// as pion's SRTP decrypts it, through a sequence number wrap (the rollover
// counter), sealed in its batch or (GSO off) on its own.
func TestDirectWriterEncryptsForTheViewer(t *testing.T) {
	for _, p := range directProfiles {
		for _, gso := range []bool{true, false} {
			t.Run(fmt.Sprintf("%v/gso=%v", p, gso), func(t *testing.T) { testDirectWriterEncrypts(t, p, gso) })
		}
	}
}

func testDirectWriterEncrypts(t *testing.T, profile srtp.ProtectionProfile, gso bool) {
	w, c, dec, next := directPair(t, profile)
	if !gso {
		c.DisableGSO()
	}
	scratch := make([]byte, sealBuffer)
	for ext := uint64(2<<16 - 3); ext < 2<<16+3; ext++ {
		seq := uint16(ext)
		h := &rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: 3000, SSRC: 42, Marker: seq == 1}
		payload := bytes.Repeat([]byte{byte(seq)}, 900)
		if err := w.write(h, payload, ext, scratch); err != nil {
			t.Fatal(err)
		}
		c.Flush()
		got, err := dec.DecryptRTP(nil, next(), nil)
		if err != nil {
			t.Fatalf("decrypt packet %d (rollover counter %d): %v", seq, rocOf(ext), err)
		}
		var p rtp.Packet
		if err := p.Unmarshal(got); err != nil {
			t.Fatal(err)
		}
		if p.SequenceNumber != seq || p.SSRC != 42 || p.Marker != h.Marker || !bytes.Equal(p.Payload, payload) {
			t.Fatalf("packet %d came out as %+v", seq, p.Header)
		}
	}
}

// The AES-GCM sealer writes the very bytes pion's SRTP context does for the
// same keys and packets, across a rollover.
func TestGCMSealerMatchesPion(t *testing.T) {
	for _, p := range []srtp.ProtectionProfile{srtp.ProtectionProfileAeadAes128Gcm, srtp.ProtectionProfileAeadAes256Gcm} {
		keyLen, _ := p.KeyLen()
		key, salt := make([]byte, keyLen), make([]byte, 12)
		for i := range key {
			key[i] = byte(i * 7)
		}
		for i := range salt {
			salt[i] = byte(100 + i)
		}
		g, err := newGCMSealer(key, salt)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := srtp.CreateContext(key, salt, p)
		if err != nil {
			t.Fatal(err)
		}
		for ext := uint64(2<<16 - 2); ext < 2<<16+2; ext++ {
			h := &rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: uint16(ext), Timestamp: uint32(ext * 960), SSRC: 0xdeadbeef, CSRC: []uint32{5}}
			payload := bytes.Repeat([]byte{0xab}, 160)
			plain, _ := (&rtp.Packet{Header: *h, Payload: payload}).Marshal()
			want, err := ref.EncryptRTP(nil, plain, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]byte, g.sealedLen(h, payload))
			if err := g.seal(got, h, payload, rocOf(ext)); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%v, packet %d: sealed\n%x\npion\n%x", p, uint16(ext), got, want)
			}
		}
	}
}

// Without a UDP destination (an ICE-TCP or relayed viewer) the direct path
// says so, and the down track writes through pion instead.
func TestDirectWriterWithoutDestination(t *testing.T) {
	w, _, _, _ := directPair(t, srtp.ProtectionProfileAeadAes128Gcm)
	w.link.dest.Store(nil)
	if err := w.write(&rtp.Header{Version: 2, SSRC: 1}, []byte{1}, 1<<16, make([]byte, sealBuffer)); err != errNoDirectPath {
		t.Fatalf("write without a destination: %v; want errNoDirectPath", err)
	}
}

func TestDirectWriterDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, p := range directProfiles {
		w, c, _, _ := directPair(t, p)
		scratch := make([]byte, sealBuffer)
		h := &rtp.Header{Version: 2, PayloadType: 96, SSRC: 42}
		payload := make([]byte, 1100)
		ext := uint64(1 << 16)
		if n := testing.AllocsPerRun(200, func() {
			ext++
			h.SequenceNumber = uint16(ext)
			if err := w.write(h, payload, ext, scratch); err != nil {
				t.Fatal(err)
			}
			if ext%8 == 0 {
				c.Flush()
			}
		}); n != 0 {
			t.Fatalf("%v: %.1f allocations per direct write", p, n)
		}
	}
}

// BenchmarkSRTPSeal compares sealing one 1,200-byte packet with gcmSealer
// (header marshaled in place, payload encrypted from where it lies) against
// pion's SRTP context (header and payload copied together, the header
// parsed again, the rollover counter looked up per SSRC).
func BenchmarkSRTPSeal(b *testing.B) {
	key, salt := make([]byte, 16), make([]byte, 12)
	h := &rtp.Header{Version: 2, PayloadType: 96, SSRC: 42}
	payload := make([]byte, 1200-12)
	b.Run("gcmSealer", func(b *testing.B) {
		g, err := newGCMSealer(key, salt)
		if err != nil {
			b.Fatal(err)
		}
		dst := make([]byte, g.sealedLen(h, payload))
		b.SetBytes(int64(len(payload)))
		for i := 0; b.Loop(); i++ {
			h.SequenceNumber = uint16(i)
			if err := g.seal(dst, h, payload, rocOf(1<<16+uint64(i))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pionContext", func(b *testing.B) {
		ctx, err := srtp.CreateContext(key, salt, srtp.ProtectionProfileAeadAes128Gcm)
		if err != nil {
			b.Fatal(err)
		}
		plain := make([]byte, 1500)
		dst := make([]byte, 0, 1500)
		var parsed rtp.Header
		b.SetBytes(int64(len(payload)))
		for i := 0; b.Loop(); i++ {
			h.SequenceNumber = uint16(i)
			n, _ := h.MarshalTo(plain)
			n += copy(plain[n:], payload)
			if _, err := ctx.EncryptRTP(dst, plain[:n], &parsed); err != nil {
				b.Fatal(err)
			}
		}
	})
}
