package media

import (
	"bytes"
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

func TestParseRTP(t *testing.T) {
	p := rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: 4242, CSRC: []uint32{1, 2}}, Payload: []byte("payload")}
	if err := p.SetExtension(3, []byte{9, 9}); err != nil {
		t.Fatal(err)
	}
	p.Padding, p.PaddingSize = true, 4
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	seq, payload, ok := parseRTP(b)
	if !ok || seq != 4242 || !bytes.Equal(payload, []byte("payload")) {
		t.Fatalf("parseRTP = %d %q %v", seq, payload, ok)
	}
	for _, bad := range [][]byte{nil, {0x80}, make([]byte, 11), {0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, {0x9f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if _, _, ok := parseRTP(bad); ok {
			t.Errorf("parseRTP(%x) accepted", bad)
		}
	}
}

// FuzzParseRTP: whatever a publisher sends, parsing never panics and a payload it
// returns lies inside the packet.
func FuzzParseRTP(f *testing.F) {
	f.Add(vp8Packet(1, 2, true, 20))
	f.Add([]byte{0xb0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, payload, ok := parseRTP(b)
		if ok && len(payload) > len(b)-12 {
			t.Fatalf("payload of %d bytes from a %d-byte packet", len(payload), len(b))
		}
	})
}

// rtcpFeed replays fuzz input as a viewer's RTCP.
type rtcpFeed struct{ pkts [][]byte }

func (r *rtcpFeed) Read(b []byte) (int, interceptor.Attributes, error) {
	if len(r.pkts) == 0 {
		return 0, nil, errEOF
	}
	n := copy(b, r.pkts[0])
	r.pkts = r.pkts[1:]
	return n, nil, nil
}

// FuzzServeRTCP: any feedback a viewer sends is handled without panicking.
func FuzzServeRTCP(f *testing.F) {
	nack, _ := (&rtcp.TransportLayerNack{MediaSSRC: 1, Nacks: []rtcp.NackPair{{PacketID: 5, LostPackets: 0xffff}}}).Marshal()
	pli, _ := (&rtcp.PictureLossIndication{MediaSSRC: 1}).Marshal()
	f.Add(nack)
	f.Add(pli)
	f.Add([]byte{0x80, 0xc8, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		fd, s := testFeed(vp8Codec())
		d := bindDown(t, fd, s, &captureWriter{}, 1)
		d.ServeRTCP(&rtcpFeed{pkts: [][]byte{b}})
		for len(s.ctrl) > 0 {
			s.handle(<-s.ctrl)
		}
	})
}
