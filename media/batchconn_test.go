package media

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"
)

// pair returns a BatchConn and a plain socket it sends to.
func pair(t testing.TB) (*BatchConn, *net.UDPConn, netip.AddrPort) {
	t.Helper()
	lo := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}
	a, err := net.ListenUDP("udp4", lo)
	if err != nil {
		t.Fatal(err)
	}
	b, err := net.ListenUDP("udp4", lo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return NewBatchConn(a, discardLogger()), b, b.LocalAddr().(*net.UDPAddr).AddrPort()
}

// rtpDatagram is a fake SRTP packet: an RTP header then a marker byte.
func rtpDatagram(seq byte, size int) []byte {
	b := make([]byte, size)
	b[0], b[1], b[3] = 0x80, 96, seq
	for i := 12; i < size; i++ {
		b[i] = seq
	}
	return b
}

func receive(t *testing.T, c *net.UDPConn, n int) [][]byte {
	t.Helper()
	var got [][]byte
	buf := make([]byte, 2000)
	for len(got) < n {
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		m, _, err := c.ReadFrom(buf)
		if err != nil {
			t.Fatalf("received %d of %d datagrams: %v", len(got), n, err)
		}
		got = append(got, append([]byte(nil), buf[:m]...))
	}
	return got
}

func expectNothing(t *testing.T, c *net.UDPConn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, _, err := c.ReadFrom(make([]byte, 2000)); err == nil {
		t.Fatalf("datagram of %d bytes arrived before Flush", n)
	}
}

// A frame's packets to one viewer leave as one GSO send and arrive as the same
// datagrams, in order, the last one shorter.
func TestBatchConnSendsBatchesAsDatagrams(t *testing.T) {
	for _, gso := range []bool{true, false} {
		t.Run(fmt.Sprintf("gso=%v", gso), func(t *testing.T) {
			c, rx, addr := pair(t)
			c.gso.Store(gso)
			sizes := make([]int, 40) // more than maxSegments: two batches
			for i := range sizes {
				sizes[i] = 1100
			}
			sizes[39] = 300
			sendAndCompare(t, c, rx, addr, sizes)
			if c.GSO() != gso {
				t.Fatalf("GSO = %v after sending, want %v (the kernel refused it?)", c.GSO(), gso)
			}
		})
	}
}

// RTP waits for Flush; STUN, DTLS and RTCP go at once, after what was queued
// for the same destination.
func TestBatchConnOrdersOtherTrafficAfterQueuedRTP(t *testing.T) {
	c, rx, addr := pair(t)
	first := rtpDatagram(1, 500)
	if _, err := c.WriteToAddrPort(first, addr); err != nil {
		t.Fatal(err)
	}
	expectNothing(t, rx)
	rtcp := []byte{0x80, 200, 0, 6, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	if _, err := c.WriteToAddrPort(rtcp, addr); err != nil {
		t.Fatal(err)
	}
	got := receive(t, rx, 2)
	if !bytes.Equal(got[0], first) || !bytes.Equal(got[1], rtcp) {
		t.Fatal("RTCP overtook the RTP queued before it")
	}
	c.Flush() // nothing left
	expectNothing(t, rx)
}

// A larger packet after smaller ones, or any after a short one, starts a new
// batch; nothing is lost or reordered.
func TestBatchConnMixedSizes(t *testing.T) {
	c, rx, addr := pair(t)
	sendAndCompare(t, c, rx, addr, []int{200, 200, 100, 400, 400, 400, 50, 50})
}

// sendAndCompare writes RTP datagrams of the given sizes, flushes, and checks
// that rx receives exactly them, in order.
func sendAndCompare(t *testing.T, c *BatchConn, rx *net.UDPConn, addr netip.AddrPort, sizes []int) {
	t.Helper()
	sent := writeRTP(t, c, addr, sizes)
	c.Flush()
	expectReceived(t, rx, sent)
}

// writeRTP writes RTP datagrams of the given sizes to addr and returns them.
func writeRTP(t *testing.T, c *BatchConn, addr netip.AddrPort, sizes []int) [][]byte {
	t.Helper()
	var sent [][]byte
	for i, n := range sizes {
		p := rtpDatagram(byte(i), n)
		sent = append(sent, p)
		if _, err := c.WriteToAddrPort(p, addr); err != nil {
			t.Fatal(err)
		}
	}
	return sent
}

// expectReceived checks that rx receives exactly sent, in order.
func expectReceived(t *testing.T, rx *net.UDPConn, sent [][]byte) {
	t.Helper()
	got := receive(t, rx, len(sent))
	for i := range sent {
		if !bytes.Equal(got[i], sent[i]) {
			t.Fatalf("datagram %d: got %d bytes, want %d", i, len(got[i]), len(sent[i]))
		}
	}
}

func TestBatchConnDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	c, _, addr := pair(t)
	p := rtpDatagram(1, 1100)
	c.WriteToAddrPort(p, addr)
	c.Flush()
	allocs := testing.AllocsPerRun(100, func() {
		for i := 0; i < 5; i++ {
			c.WriteToAddrPort(p, addr)
		}
		c.Flush()
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per batch", allocs)
	}
}

// BenchmarkBatchConn sends a 5-packet frame of 1,216-byte SRTP-sized packets to
// one destination per op; ns/packet compares GSO with one send per packet.
func BenchmarkBatchConn(b *testing.B) {
	for _, gso := range []bool{false, true} {
		b.Run(fmt.Sprintf("gso=%v", gso), func(b *testing.B) {
			c, _, addr := pair(b)
			c.gso.Store(gso)
			p := rtpDatagram(1, 1216)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				for j := 0; j < 5; j++ {
					c.WriteToAddrPort(p, addr)
				}
				c.Flush()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*5), "ns/packet")
		})
	}
}
