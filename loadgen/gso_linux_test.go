//go:build linux && (amd64 || arm64)

package loadgen

import (
	"encoding/binary"
	"net"
	"syscall"
	"testing"
	"unsafe"
)

// sendGSO sends equal-sized pkts to `to` as one UDP GSO message.
func sendGSO(t *testing.T, from *net.UDPConn, to *net.UDPAddr, pkts [][]byte) {
	t.Helper()
	var buf []byte
	for _, p := range pkts {
		buf = append(buf, p...)
	}
	oob := make([]byte, syscall.CmsgSpace(2))
	h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level, h.Type = syscall.IPPROTO_UDP, 103 // UDP_SEGMENT
	h.SetLen(syscall.CmsgLen(2))
	binary.NativeEndian.PutUint16(oob[syscall.CmsgLen(0):], uint16(len(pkts[0])))
	if _, _, err := from.WriteMsgUDP(buf, oob, to); err != nil {
		t.Skipf("kernel refused a GSO send: %v", err)
	}
}
