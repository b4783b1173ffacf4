//go:build !linux || !(amd64 || arm64)

package media

import (
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
)

func newBatchWriter(conn *net.UDPConn) batchWriter { return pcWriter{ipv4.NewPacketConn(conn)} }

func newDatagramReader(conn *net.UDPConn) datagramReader { return conn.ReadFromUDPAddrPort }

func newDatagramWriter(conn *net.UDPConn) datagramWriter {
	return func(b, oob []byte, addr netip.AddrPort) (int, error) {
		n, _, err := conn.WriteMsgUDPAddrPort(b, oob, addr)
		return n, err
	}
}
