//go:build linux && (amd64 || arm64)

package media

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// newDatagramReader prefers the raw recvfrom reader, falling back to conn's.
func newDatagramReader(conn *net.UDPConn) datagramReader {
	if r, err := newRawReader(conn); err == nil {
		return r.readFrom
	}
	return conn.ReadFromUDPAddrPort
}

// rawReader reads datagrams with recvfrom(2) as a raw system call, for the
// same reason mmsgSender sends that way: the first read after the node went
// idle between frames would otherwise wake sysmon from its deep sleep and
// set it polling every 20 µs again, on every video frame. The socket is
// non-blocking; the poller waits for readability as before.
type rawReader struct {
	raw syscall.RawConn
	mu  sync.Mutex // one read at a time owns the fields below
	// The read in progress, kept here so that the callback is made once.
	recv    func(fd uintptr) bool
	buf     []byte
	n       int
	from    unix.RawSockaddrAny
	fromLen uint32
	errno   syscall.Errno
}

func newRawReader(conn *net.UDPConn) (*rawReader, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("media: raw udp conn: %w", err)
	}
	r := &rawReader{raw: raw}
	r.recv = r.recvLoop
	return r, nil
}

// readFrom reads one datagram into b.
func (r *rawReader) readFrom(b []byte) (int, netip.AddrPort, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf, r.n, r.errno = b, 0, 0
	// The poller's errors (closed, deadline) are returned as they come: pion's
	// mux tells a deadline by os.IsTimeout, which does not unwrap.
	err := r.raw.Read(r.recv)
	r.buf = nil
	if err == nil && r.errno != 0 {
		err = &net.OpError{Op: "read", Net: "udp", Err: os.NewSyscallError("recvfrom", r.errno)}
	}
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	return r.n, sockaddrAddrPort(&r.from), nil
}

func (r *rawReader) recvLoop(fd uintptr) bool {
	var p unsafe.Pointer
	if len(r.buf) > 0 {
		p = unsafe.Pointer(&r.buf[0])
	}
	for {
		r.fromLen = unix.SizeofSockaddrAny
		n, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(p), uintptr(len(r.buf)), 0,
			uintptr(unsafe.Pointer(&r.from)), uintptr(unsafe.Pointer(&r.fromLen)))
		switch e {
		case 0:
			r.n = int(n)
			return true
		case syscall.EAGAIN:
			return false
		case syscall.EINTR:
			continue
		default:
			r.errno = e
			return true
		}
	}
}

// sockaddrAddrPort converts a received IPv4 or IPv6 sockaddr.
func sockaddrAddrPort(sa *unix.RawSockaddrAny) netip.AddrPort {
	switch sa.Addr.Family {
	case unix.AF_INET:
		in := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(in.Addr), getPort(&in.Port))
	case unix.AF_INET6:
		in := (*unix.RawSockaddrInet6)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom16(in.Addr), getPort(&in.Port))
	}
	return netip.AddrPort{}
}

// getPort reads a port in network byte order.
func getPort(p *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(p))
	return uint16(b[0])<<8 | uint16(b[1])
}

// rawSender sends single datagrams with sendmsg(2) as a raw system call:
// STUN, DTLS and RTCP between batches (see mmsgSender for why).
type rawSender struct {
	raw   syscall.RawConn
	inet6 bool
	mu    sync.Mutex // one send at a time owns the fields below
	send  func(fd uintptr) bool
	hdr   unix.Msghdr
	iov   unix.Iovec
	name  unix.RawSockaddrInet6
	errno syscall.Errno
}

func newRawSender(conn *net.UDPConn) (*rawSender, error) {
	m, err := newMmsgSender(conn) // for the socket's family
	if err != nil {
		return nil, err
	}
	s := &rawSender{raw: m.raw, inet6: m.inet6}
	s.send = s.sendLoop
	return s, nil
}

// writeMsg sends b (with oob control messages, if any) to addr.
func (s *rawSender) writeMsg(b, oob []byte, addr netip.AddrPort) (int, error) {
	if len(b) == 0 {
		return 0, errors.New("media: sendmsg: empty datagram")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	namelen, err := putName(&s.name, addr, s.inet6)
	if err != nil {
		return 0, err
	}
	s.iov = unix.Iovec{Base: &b[0]}
	s.iov.SetLen(len(b))
	s.hdr = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&s.name)), Namelen: namelen, Iov: &s.iov}
	s.hdr.SetIovlen(1)
	if len(oob) > 0 {
		s.hdr.Control = &oob[0]
		s.hdr.SetControllen(len(oob))
	}
	s.errno = 0
	err = s.raw.Write(s.send)
	s.iov, s.hdr = unix.Iovec{}, unix.Msghdr{} // drop the references to b and oob
	if err == nil && s.errno != 0 {
		err = &net.OpError{Op: "write", Net: "udp", Addr: net.UDPAddrFromAddrPort(addr), Err: os.NewSyscallError("sendmsg", s.errno)}
	}
	if err != nil {
		return 0, err
	}
	return len(b), nil
}

func (s *rawSender) sendLoop(fd uintptr) bool {
	for {
		_, _, e := unix.RawSyscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&s.hdr)), 0)
		switch e {
		case 0:
			return true
		case syscall.EAGAIN:
			return false
		case syscall.EINTR:
			continue
		default:
			s.errno = e
			return true
		}
	}
}

// newDatagramWriter prefers the raw sendmsg sender, falling back to conn's.
func newDatagramWriter(conn *net.UDPConn) datagramWriter {
	if s, err := newRawSender(conn); err == nil {
		return s.writeMsg
	}
	return func(b, oob []byte, addr netip.AddrPort) (int, error) {
		n, _, err := conn.WriteMsgUDPAddrPort(b, oob, addr)
		return n, err
	}
}
