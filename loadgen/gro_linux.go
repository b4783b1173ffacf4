//go:build linux && (amd64 || arm64)

package loadgen

import (
	"encoding/binary"
	"net"
	"syscall"
	"unsafe"
)

// udpGRO is UDP_GRO from linux/udp.h (not in package syscall).
const udpGRO = 104

// enableGRO turns UDP_GRO on for conn, reporting whether the kernel took it.
func enableGRO(conn *net.UDPConn) bool {
	raw, err := conn.SyscallConn()
	if err != nil {
		return false
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_UDP, udpGRO, 1)
	}); err != nil {
		return false
	}
	return serr == nil
}

// groSegment returns the segment size the UDP_GRO control message gives, or
// 0 when the read returned a single datagram.
func groSegment(oob []byte) int {
	for len(oob) >= syscall.CmsgLen(0) {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		if h.Len < uint64(syscall.CmsgLen(0)) || int(h.Len) > len(oob) {
			return 0
		}
		data := oob[syscall.CmsgLen(0):h.Len]
		if h.Level == syscall.IPPROTO_UDP && h.Type == udpGRO && len(data) >= 4 {
			return int(binary.NativeEndian.Uint32(data))
		}
		oob = oob[min(len(oob), syscall.CmsgSpace(len(data))):]
	}
	return 0
}
