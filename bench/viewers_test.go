package bench

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"

	"github.com/talkrelay/talkrelay/media"
)

// sink is a simulated viewer's UDP socket; nobody reads it, so the kernel drops
// what overflows, as with a real remote viewer.
func sink(tb testing.TB) *net.UDPAddr {
	tb.Helper()
	s, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s.LocalAddr().(*net.UDPAddr)
}

// srtpStream returns a real AES-128-GCM SRTP write stream over its own UDP socket
// to dst: a viewer's transport without ICE and DTLS, which do not touch the
// per-packet cost.
func srtpStream(tb testing.TB, dst *net.UDPAddr) *srtp.WriteStreamSRTP {
	tb.Helper()
	conn, err := net.DialUDP("udp4", nil, dst)
	if err != nil {
		tb.Fatal(err)
	}
	return srtpStreamOver(tb, conn)
}

// srtpStreamOver is srtpStream over any connection.
func srtpStreamOver(tb testing.TB, conn net.Conn) *srtp.WriteStreamSRTP {
	tb.Helper()
	key, salt := make([]byte, 16), make([]byte, 12)
	sess, err := srtp.NewSessionSRTP(conn, &srtp.Config{
		Profile:       srtp.ProtectionProfileAeadAes128Gcm,
		Keys:          srtp.SessionKeys{LocalMasterKey: key, LocalMasterSalt: salt, RemoteMasterKey: key, RemoteMasterSalt: salt},
		LoggerFactory: quietLogs(),
	})
	if err != nil {
		tb.Fatal(err)
	}
	ws, err := sess.OpenWriteStream()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { sess.Close() })
	return ws
}

func quietLogs() logging.LoggerFactory {
	f := logging.NewDefaultLoggerFactory()
	f.DefaultLogLevel = logging.LogLevelDisabled
	return f
}

// vp8Packet is a 1,200-byte VP8 packet; key marks a keyframe start.
func vp8Packet(seq uint16, ts uint32, key bool) []byte {
	payload := make([]byte, 1200-12)
	payload[0] = 0x10
	if !key {
		payload[1] = 0x01
	}
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts, SSRC: 42}, Payload: payload}
	b, _ := p.Marshal()
	return b
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// batchSocket is the SFU's media socket: one BatchConn all viewers are sent through.
func batchSocket(tb testing.TB) *media.BatchConn {
	tb.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	bc := media.NewBatchConn(conn, slog.New(slog.DiscardHandler))
	tb.Cleanup(func() { bc.Close() })
	return bc
}

// viewerConn is one viewer's path through the shared BatchConn, as pion's ICE
// mux gives each connection: writes go to the viewer's address.
type viewerConn struct {
	bc     *media.BatchConn
	dst    netip.AddrPort
	closed chan struct{} // closed by Close: reads then fail
	once   sync.Once
}

func newViewerConn(bc *media.BatchConn, dst netip.AddrPort) *viewerConn {
	return &viewerConn{bc: bc, dst: dst, closed: make(chan struct{})}
}

func (v *viewerConn) Write(b []byte) (int, error) { return v.bc.WriteToAddrPort(b, v.dst) }
func (v *viewerConn) Read([]byte) (int, error)    { <-v.closed; return 0, io.EOF }
func (v *viewerConn) Close() error {
	v.once.Do(func() { close(v.closed) })
	return nil
}
func (v *viewerConn) LocalAddr() net.Addr              { return v.bc.LocalAddr() }
func (v *viewerConn) RemoteAddr() net.Addr             { return net.UDPAddrFromAddrPort(v.dst) }
func (v *viewerConn) SetDeadline(time.Time) error      { return nil }
func (v *viewerConn) SetReadDeadline(time.Time) error  { return nil }
func (v *viewerConn) SetWriteDeadline(time.Time) error { return nil }
