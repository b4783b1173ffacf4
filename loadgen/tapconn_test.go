package loadgen

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

func TestIsRTP(t *testing.T) {
	rtpPkt, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: 7, Timestamp: 9, SSRC: 11}, Payload: []byte{1}}).Marshal()
	marker, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, PayloadType: 111, SSRC: 1}}).Marshal()
	sr, _ := (&rtcp.SenderReport{SSRC: 1}).Marshal()
	rr, _ := (&rtcp.ReceiverReport{SSRC: 1}).Marshal()
	pli, _ := (&rtcp.PictureLossIndication{SenderSSRC: 1, MediaSSRC: 2}).Marshal()
	tests := []struct {
		name string
		b    []byte
		want bool
	}{
		{"rtp", rtpPkt, true},
		{"rtp with marker", marker, true},
		{"sender report", sr, false},
		{"receiver report", rr, false},
		{"pli", pli, false},
		{"stun binding", []byte{0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, false},
		{"dtls handshake", []byte{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, false},
		{"short", rtpPkt[:11], false},
	}
	for _, tc := range tests {
		if got := isRTP(tc.b); got != tc.want {
			t.Errorf("%s: isRTP = %v, want %v", tc.name, got, tc.want)
		}
	}
	h := parseRTPHeader(rtpPkt)
	if h != (rtpHeader{pt: 96, seq: 7, ts: 9, ssrc: 11}) {
		t.Errorf("header %+v", h)
	}
}

func TestTapConnSwallowsRTP(t *testing.T) {
	for _, gro := range []bool{false, true} {
		t.Run(fmt.Sprintf("gro=%v", gro), func(t *testing.T) { testTapConn(t, gro) })
	}
}

// testTapConn sends three RTP packets (with gro, as one GSO message) and a
// sender report: the tap must count the RTP in order and return the report.
func testTapConn(t *testing.T, gro bool) {
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	var mu sync.Mutex
	var seen []uint16
	tap := newTapConn(listen(), func(b []byte, _ time.Time) {
		mu.Lock()
		seen = append(seen, parseRTPHeader(b).seq)
		mu.Unlock()
	}, gro)
	defer tap.Close()
	if gro && !tap.gro {
		t.Skip("kernel refused UDP_GRO")
	}
	peer := listen()
	defer peer.Close()

	var pkts [][]byte
	for seq := range uint16(3) {
		b, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq}, Payload: make([]byte, 100)}).Marshal()
		pkts = append(pkts, b)
	}
	to := tap.LocalAddr().(*net.UDPAddr)
	if gro {
		sendGSO(t, peer, to, pkts)
	} else {
		for _, b := range pkts {
			if _, err := peer.WriteTo(b, to); err != nil {
				t.Fatal(err)
			}
		}
	}
	sr, _ := (&rtcp.SenderReport{SSRC: 5}).Marshal()
	if _, err := peer.WriteTo(sr, to); err != nil {
		t.Fatal(err)
	}
	_ = tap.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	n, from, err := tap.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if isRTP(buf[:n]) || from.String() != peer.LocalAddr().String() {
		t.Fatalf("read %d bytes from %v: want the sender report from %v", n, from, peer.LocalAddr())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 || seen[0] != 0 || seen[1] != 1 || seen[2] != 2 {
		t.Fatalf("tapped %v, want 3 RTP packets in order", seen)
	}
	if gro && tap.merged != 1 {
		t.Fatalf("%d reads returned several datagrams; want the GSO message read whole once", tap.merged)
	}
	if _, err := tap.WriteTo(buf[:n], peer.LocalAddr()); err != nil {
		t.Fatalf("write: %v", err)
	}
	if _, err := tap.WriteTo(buf[:n], &net.TCPAddr{}); err == nil {
		t.Fatal("write to a TCP address accepted")
	}
}
