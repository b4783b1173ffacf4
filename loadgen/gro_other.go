//go:build !linux || !(amd64 || arm64)

package loadgen

import "net"

func enableGRO(*net.UDPConn) bool { return false }

func groSegment([]byte) int { return 0 }
