package loadgen

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// tapConn is a light viewer's UDP socket as pion's ICE mux sees it. It reads
// every datagram first: RTP is counted from its clear header (SRTP encrypts
// only the payload) and swallowed, so pion never spends a decryption on it;
// STUN, DTLS and SRTCP pass through untouched, which keeps ICE, the DTLS
// handshake, consent checks and sender reports working.
//
// It implements ice.AddrPortReaderWriter so the mux takes its
// allocation-free path, and deliberately does not embed *net.UDPConn, whose
// promoted methods would let a caller bypass the tap.
type tapConn struct {
	conn  *net.UDPConn
	onRTP func(b []byte, at time.Time) // must not keep b

	// With UDP GRO on, one read may return several datagrams of one size
	// (the last may be shorter) that the sender wrote as one GSO message;
	// they are handed out one by one from here. Only the mux's reader
	// goroutine reads.
	gro     bool
	rbuf    []byte
	oob     []byte
	pend    []byte // datagrams of the last read not yet handed out
	pendSeg int
	pendSrc netip.AddrPort
	pendAt  time.Time
	merged  int // reads that returned several datagrams
}

// newTapConn wraps conn. With gro it asks the kernel to deliver a sender's
// GSO message whole (UDP_GRO) where it can: on loopback the kernel charges
// the receiving sockets' work to the sender, and cutting a message into
// datagrams for the receiver is work a real network never puts on the SFU.
func newTapConn(conn *net.UDPConn, onRTP func([]byte, time.Time), gro bool) *tapConn {
	t := &tapConn{conn: conn, onRTP: onRTP}
	if gro && enableGRO(conn) {
		t.gro, t.rbuf, t.oob = true, make([]byte, 64<<10), make([]byte, 64)
	}
	return t
}

// isRTP applies the RFC 5761 (section 4) demultiplexing rule to a datagram
// that RFC 7983 already placed in the RTP/RTCP range (first byte 128–191):
// RTCP packet types 192–223 appear as payload types 64–95 once the marker
// bit is masked off.
func isRTP(b []byte) bool {
	if len(b) < 12 || b[0] < 128 || b[0] > 191 {
		return false
	}
	pt := b[1] & 0x7f
	return pt < 64 || pt > 95
}

// rtpHeader is the part of a fixed RTP header the light viewer needs.
type rtpHeader struct {
	pt   uint8
	seq  uint16
	ts   uint32
	ssrc uint32
}

// parseRTPHeader reads the fixed header of a datagram isRTP accepted.
func parseRTPHeader(b []byte) rtpHeader {
	return rtpHeader{
		pt:   b[1] & 0x7f,
		seq:  binary.BigEndian.Uint16(b[2:]),
		ts:   binary.BigEndian.Uint32(b[4:]),
		ssrc: binary.BigEndian.Uint32(b[8:]),
	}
}

// ReadFromAddrPort returns the next datagram that is not RTP.
func (t *tapConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	if !t.gro {
		for {
			n, addr, err := t.conn.ReadFromUDPAddrPort(b)
			if err != nil {
				return n, addr, err
			}
			if !isRTP(b[:n]) {
				return n, addr, nil
			}
			t.onRTP(b[:n], time.Now())
		}
	}
	for {
		for len(t.pend) > 0 {
			d := t.pend[:min(t.pendSeg, len(t.pend))]
			t.pend = t.pend[len(d):]
			if !isRTP(d) {
				return copy(b, d), t.pendSrc, nil
			}
			t.onRTP(d, t.pendAt)
		}
		n, oobn, _, addr, err := t.conn.ReadMsgUDPAddrPort(t.rbuf, t.oob)
		if err != nil {
			return 0, addr, err
		}
		seg := groSegment(t.oob[:oobn])
		if seg <= 0 {
			seg = n
		} else if seg < n {
			t.merged++
		}
		t.pend, t.pendSeg, t.pendSrc, t.pendAt = t.rbuf[:n], max(seg, 1), addr, time.Now()
		if n == 0 { // an empty datagram is still one
			return 0, addr, nil
		}
	}
}

// ReadFrom is ReadFromAddrPort for callers wanting a net.Addr.
func (t *tapConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := t.ReadFromAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(addr), nil
}

// WriteToAddrPort sends one datagram.
func (t *tapConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	return t.conn.WriteToUDPAddrPort(b, addr)
}

// WriteTo sends one datagram to a *net.UDPAddr.
func (t *tapConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, fmt.Errorf("loadgen: tap write to %T, want *net.UDPAddr", addr)
	}
	return t.conn.WriteToUDP(b, ua)
}

func (t *tapConn) Close() error                       { return t.conn.Close() }
func (t *tapConn) LocalAddr() net.Addr                { return t.conn.LocalAddr() }
func (t *tapConn) SetDeadline(d time.Time) error      { return t.conn.SetDeadline(d) }
func (t *tapConn) SetReadDeadline(d time.Time) error  { return t.conn.SetReadDeadline(d) }
func (t *tapConn) SetWriteDeadline(d time.Time) error { return t.conn.SetWriteDeadline(d) }
