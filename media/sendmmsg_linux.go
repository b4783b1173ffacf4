//go:build linux && (amd64 || arm64)

package media

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// mmsgSender sends a flush with sendmmsg(2) as a raw system call. A flush to
// many viewers spends hundreds of microseconds in the kernel (on loopback the
// receivers' delivery too); through syscall.Syscall the runtime would see a
// long system call, hand the P to another thread and keep sysmon waking every
// 20 µs to do so. The socket is non-blocking, so the call never sleeps: when
// the send buffer is full it returns EAGAIN and the poller waits, as before.
type mmsgSender struct {
	raw   syscall.RawConn
	inet6 bool
	hdrs  []mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // large enough for either family

	// The flush in progress, kept here so that the poller's callback is made
	// once (a closure per flush would allocate).
	send    func(fd uintptr) bool
	n, sent int
	errno   syscall.Errno
}

// mmsghdr is struct mmsghdr from <sys/socket.h>.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

func newMmsgSender(conn *net.UDPConn) (*mmsgSender, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("media: raw udp conn: %w", err)
	}
	var domain int
	var serr error
	if err := raw.Control(func(fd uintptr) {
		domain, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_DOMAIN)
	}); err != nil {
		return nil, fmt.Errorf("media: udp socket control: %w", err)
	}
	if serr != nil {
		return nil, fmt.Errorf("media: udp socket domain: %w", serr)
	}
	s := &mmsgSender{raw: raw, inet6: domain == unix.AF_INET6}
	s.send = s.sendLoop
	return s, nil
}

// writeBatch sends msgs (one buffer each) and returns how many went out; on
// an error, msgs[n] is the message the kernel refused.
func (s *mmsgSender) writeBatch(msgs []ipv4.Message) (int, error) {
	if err := s.prepare(msgs); err != nil {
		return 0, err
	}
	s.n, s.sent, s.errno = len(msgs), 0, 0
	err := s.raw.Write(s.send)
	clear(s.hdrs[:len(msgs)]) // drop the references to the flush's buffers
	if s.errno != 0 {
		return s.sent, fmt.Errorf("media: sendmmsg: %w", s.errno)
	}
	if err != nil {
		return s.sent, fmt.Errorf("media: sendmmsg: %w", err)
	}
	return s.sent, nil
}

// sendLoop is the poller's callback: it sends until done, an error, or a
// full send buffer (false: wait until writable, then call again).
func (s *mmsgSender) sendLoop(fd uintptr) bool {
	for s.sent < s.n {
		r, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd,
			uintptr(unsafe.Pointer(&s.hdrs[s.sent])), uintptr(s.n-s.sent), 0, 0, 0)
		switch {
		case e == syscall.EAGAIN:
			return false
		case e == syscall.EINTR:
			continue
		case e != 0:
			s.errno = e
			return true
		}
		s.sent += int(r)
	}
	return true
}

// prepare fills the system call's headers from msgs, reusing the arrays.
func (s *mmsgSender) prepare(msgs []ipv4.Message) error {
	if n := len(msgs); cap(s.hdrs) < n {
		s.hdrs = make([]mmsghdr, n)
		s.iovs = make([]unix.Iovec, n)
		s.names = make([]unix.RawSockaddrInet6, n)
	}
	s.hdrs, s.iovs, s.names = s.hdrs[:cap(s.hdrs)], s.iovs[:cap(s.iovs)], s.names[:cap(s.names)]
	for i := range msgs {
		m := &msgs[i]
		ua, ok := m.Addr.(*net.UDPAddr)
		if !ok || len(m.Buffers) != 1 || len(m.Buffers[0]) == 0 {
			return errors.New("media: sendmmsg: want one buffer to a UDP address per message")
		}
		namelen, err := putName(&s.names[i], ua.AddrPort(), s.inet6)
		if err != nil {
			return err
		}
		buf := m.Buffers[0]
		s.iovs[i] = unix.Iovec{Base: &buf[0]}
		s.iovs[i].SetLen(len(buf))
		h := &s.hdrs[i].hdr
		*h = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&s.names[i])), Namelen: namelen, Iov: &s.iovs[i]}
		h.SetIovlen(1)
		if len(m.OOB) > 0 {
			h.Control = &m.OOB[0]
			h.SetControllen(len(m.OOB))
		}
	}
	return nil
}

// putName writes ap as the socket family's sockaddr and returns its length.
func putName(name *unix.RawSockaddrInet6, ap netip.AddrPort, inet6 bool) (uint32, error) {
	port := ap.Port()
	if !inet6 {
		ip := ap.Addr().Unmap()
		if !ip.Is4() {
			return 0, fmt.Errorf("media: sendmmsg: %s on an IPv4 socket", ap)
		}
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(name))
		*sa = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: ip.As4()}
		putPort(&sa.Port, port)
		return unix.SizeofSockaddrInet4, nil
	}
	*name = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: ap.Addr().As16()}
	putPort(&name.Port, port)
	return unix.SizeofSockaddrInet6, nil
}

// putPort stores port in network byte order.
func putPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}

// newBatchWriter prefers the raw sendmmsg sender, falling back to x/net's.
func newBatchWriter(conn *net.UDPConn) batchWriter {
	if s, err := newMmsgSender(conn); err == nil {
		return s
	}
	return pcWriter{ipv4.NewPacketConn(conn)}
}
