package media

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// directPair is a direct writer with fixed keys sending through a BatchConn
// to rx, and a context that decrypts what rx gets.
func directPair(t *testing.T) (*directWriter, *BatchConn, *srtp.Context, func() []byte) {
	t.Helper()
	c, rx, addr := pair(t)
	key, salt := bytes.Repeat([]byte{7}, 16), bytes.Repeat([]byte{9}, 12)
	l := &sendLink{}
	l.keys.Store(&srtpKeys{key: key, salt: salt, profile: srtp.ProtectionProfileAeadAes128Gcm})
	l.dest.Store(&linkDest{conn: c, addr: addr})
	w, err := newDirectWriter(l)
	if err != nil || w == nil {
		t.Fatalf("direct writer: %v", err)
	}
	dec, err := srtp.CreateContext(key, salt, srtp.ProtectionProfileAeadAes128Gcm)
	if err != nil {
		t.Fatal(err)
	}
	next := func() []byte { return receive(t, rx, 1)[0] }
	return w, c, dec, next
}

// What the direct path sends is the packet, encrypted with the link's keys,
// sealed in its batch or (GSO off) on its own.
func TestDirectWriterEncryptsForTheViewer(t *testing.T) {
	for _, gso := range []bool{true, false} {
		t.Run(fmt.Sprintf("gso=%v", gso), func(t *testing.T) { testDirectWriterEncrypts(t, gso) })
	}
}

func testDirectWriterEncrypts(t *testing.T, gso bool) {
	w, c, dec, next := directPair(t)
	if !gso {
		c.DisableGSO()
	}
	scratch := make([]byte, sealBuffer)
	for seq := uint16(100); seq < 103; seq++ {
		h := &rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: 3000, SSRC: 42, Marker: seq == 102}
		payload := bytes.Repeat([]byte{byte(seq)}, 900)
		if err := w.write(h, payload, scratch); err != nil {
			t.Fatal(err)
		}
		c.Flush()
		got, err := dec.DecryptRTP(nil, next(), nil)
		if err != nil {
			t.Fatalf("decrypt: %v", err)
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

// Without a UDP destination (an ICE-TCP or relayed viewer) the direct path
// says so, and the down track writes through pion instead.
func TestDirectWriterWithoutDestination(t *testing.T) {
	w, _, _, _ := directPair(t)
	w.link.dest.Store(nil)
	if err := w.write(&rtp.Header{Version: 2, SSRC: 1}, []byte{1}, make([]byte, sealBuffer)); err != errNoDirectPath {
		t.Fatalf("write without a destination: %v; want errNoDirectPath", err)
	}
}

func TestDirectWriterDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	w, c, _, _ := directPair(t)
	scratch := make([]byte, sealBuffer)
	h := &rtp.Header{Version: 2, PayloadType: 96, SSRC: 42}
	payload := make([]byte, 1100)
	if n := testing.AllocsPerRun(200, func() {
		h.SequenceNumber++
		if err := w.write(h, payload, scratch); err != nil {
			t.Fatal(err)
		}
		if h.SequenceNumber%8 == 0 {
			c.Flush()
		}
	}); n != 0 {
		t.Fatalf("%.1f allocations per direct write", n)
	}
}
