package turn

import (
	"net"
	"syscall"
)

// socketBuffer is the UDP buffer size asked for the listening and relay
// sockets. A viewer joining a live gets the current picture group from the
// SFU's cache at once, a burst of a hundred packets and more that a relay
// socket must hold while its reader forwards them one by one; the kernel's
// default (208 KiB, some 90 such datagrams) loses the rest.
const socketBuffer = 4 << 20

// growBuffers raises conn's buffers, with the privileged FORCE options where
// allowed so that the host's rmem_max and wmem_max do not cap them; best
// effort.
func growBuffers(conn *net.UDPConn) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		for _, opt := range [][2]int{{syscall.SO_RCVBUFFORCE, syscall.SO_RCVBUF}, {syscall.SO_SNDBUFFORCE, syscall.SO_SNDBUF}} {
			if syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, opt[0], socketBuffer) != nil {
				_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, opt[1], socketBuffer)
			}
		}
	})
}
