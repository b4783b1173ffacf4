//go:build !linux || !(amd64 || arm64)

package media

import (
	"net"

	"golang.org/x/net/ipv4"
)

func newBatchWriter(conn *net.UDPConn) batchWriter { return pcWriter{ipv4.NewPacketConn(conn)} }

func newDatagramReader(conn *net.UDPConn) datagramReader { return conn.ReadFromUDPAddrPort }
