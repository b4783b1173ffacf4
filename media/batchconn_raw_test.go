package media

import (
	"bytes"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// Runs of several sizes to one destination (audio between video packets)
// all wait for the flush, which sends them in order.
func TestBatchConnHoldsEveryRunUntilFlush(t *testing.T) {
	c, rx, addr := pair(t)
	sent := writeRTP(t, c, addr, []int{1200, 1200, 700, 100, 1200, 1200, 1200, 90, 80})
	expectNothing(t, rx)
	c.Flush()
	expectReceived(t, rx, sent)
}

// A destination that fills more runs than a batch holds between flushes is
// sent early rather than buffered without bound; nothing is lost or reordered.
func TestBatchConnBoundsRunsPerDestination(t *testing.T) {
	c, rx, addr := pair(t)
	var sizes []int
	for range maxSealed + 3 {
		sizes = append(sizes, 300, 100) // every short packet closes a run
	}
	sendAndCompare(t, c, rx, addr, sizes)
}

// The socket reads the node's traffic: data and source come through, a
// deadline is a timeout pion's mux recognises, and a closed socket ends the
// mux's reader with net.ErrClosed.
func TestBatchConnReads(t *testing.T) {
	c, peer, _ := pair(t)
	to := c.LocalAddr().(*net.UDPAddr)
	want := []byte{0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42} // the start of a STUN header
	if _, err := peer.WriteToUDP(want, to); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 1500)
	n, from, err := c.ReadFromAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf[:n], want) || from != peer.LocalAddr().(*net.UDPAddr).AddrPort() {
		t.Fatalf("read %x from %v; want %x from %v", buf[:n], from, want, peer.LocalAddr())
	}

	_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, _, err := c.ReadFrom(buf); !os.IsTimeout(err) {
		t.Fatalf("read past the deadline: %v; want a timeout", err)
	}

	_ = c.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() {
		_, _, err := c.ReadFromAddrPort(buf)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	c.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read on a closed socket: %v; want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("read did not end when the socket closed")
	}
}

// The batch sender speaks IPv6 sockets' addresses too.
func TestBatchConnIPv6(t *testing.T) {
	lo := &net.UDPAddr{IP: net.IPv6loopback}
	a, err := net.ListenUDP("udp6", lo)
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	b, err := net.ListenUDP("udp6", lo)
	if err != nil {
		a.Close()
		t.Skipf("no IPv6 loopback: %v", err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	c := NewBatchConn(a, discardLogger())
	sendAndCompare(t, c, b, b.LocalAddr().(*net.UDPAddr).AddrPort(), []int{1000, 1000, 500, 120})
}

// Traffic sent at once (not batched) allocates nothing either: STUN, DTLS
// and RTCP to every viewer.
func TestBatchConnImmediateSendDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	c, _, addr := pair(t)
	rtcp := []byte{0x80, 200, 0, 6, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	if n := testing.AllocsPerRun(100, func() {
		if _, err := c.WriteToAddrPort(rtcp, addr); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%.1f allocations per immediate send", n)
	}
}
