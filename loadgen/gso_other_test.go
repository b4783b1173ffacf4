//go:build !linux || !(amd64 || arm64)

package loadgen

import (
	"net"
	"testing"
)

func sendGSO(t *testing.T, _ *net.UDPConn, _ *net.UDPAddr, _ [][]byte) {
	t.Skip("UDP GSO is Linux only")
}
