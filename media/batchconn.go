package media

import (
	"encoding/binary"
	"errors"
	"hash/maphash"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// BatchConn is a media socket as pion's ICE mux sees it. The SRTP packets a
// fan-out worker writes to one viewer are gathered and sent as one UDP GSO
// message (UDP_SEGMENT): the kernel cuts it into datagrams, and the cost of a
// send is paid once per batch instead of once per packet. Everything else
// (STUN, DTLS, SRTCP) goes out at once. Workers call Flush when they have
// written what they had; nothing waits for a timer. Where the kernel refuses
// GSO it falls back to one send per packet.
type BatchConn struct {
	conn   *net.UDPConn
	log    *slog.Logger
	gso    atomic.Bool // false once the kernel refused a GSO send
	seed   maphash.Seed
	shards [batchShards]batchShard
	oob    [batchShards][]byte // per-shard UDP_SEGMENT control message buffer
}

const (
	batchShards = 16
	// maxSegments bounds a batch: a frame's packets to one viewer, well inside
	// the kernel's limit of 64 segments and 64 KiB.
	maxSegments = 32
	batchBytes  = 48 << 10
	// firstBuffer is a new batch buffer's capacity: a typical frame's packets to
	// one viewer. Buffers grow for keyframes and are reused after.
	firstBuffer = 8 << 10
	// idleBatch is how long a destination's batch state outlives its last use.
	idleBatch = time.Minute
	// udpSegment is UDP_SEGMENT from linux/udp.h (not in package syscall).
	udpSegment = 103
)

// batchShard holds the batches of the destinations that hash to it.
type batchShard struct {
	mu      sync.Mutex
	pending map[netip.AddrPort]*batch
	dirty   []*batch // batches holding packets, in the order they started
	free    [][]byte // buffers of flushed batches, reused
	swept   time.Time
}

// batch is the packets waiting for one destination: equal-sized segments, the
// last of which may be shorter.
type batch struct {
	addr   netip.AddrPort
	buf    []byte
	seg    int
	count  int
	closed bool // a short segment ended it
	used   time.Time
}

// NewBatchConn wraps conn; it owns conn from now on.
func NewBatchConn(conn *net.UDPConn, log *slog.Logger) *BatchConn {
	c := &BatchConn{conn: conn, log: log, seed: maphash.MakeSeed()}
	c.gso.Store(true)
	for i := range c.shards {
		c.shards[i].pending = map[netip.AddrPort]*batch{}
		c.oob[i] = make([]byte, syscall.CmsgSpace(2))
	}
	return c
}

// isRTP tells RTP from RTCP, STUN and DTLS (RFC 7983, RFC 5761 section 4).
func isRTP(b []byte) bool {
	if len(b) < 12 || b[0] < 128 || b[0] > 191 {
		return false
	}
	pt := b[1] & 0x7f
	return pt < 64 || pt > 95
}

// WriteToAddrPort queues an RTP packet in its destination's batch, or sends
// anything else at once, after whatever is queued for that destination.
func (c *BatchConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	if !c.gso.Load() || !isRTP(b) || len(b) > batchBytes/maxSegments {
		c.flushAddr(addr)
		return c.conn.WriteToUDPAddrPort(b, addr)
	}
	i := c.shardOf(addr)
	sh := &c.shards[i]
	sh.mu.Lock()
	bt := sh.pending[addr]
	if bt == nil {
		bt = &batch{addr: addr}
		sh.pending[addr] = bt
	}
	if bt.count > 0 && (bt.closed || len(b) > bt.seg || bt.count == maxSegments || len(bt.buf)+len(b) > batchBytes) {
		c.send(i, bt)
		sh.release(bt)
	}
	if bt.count == 0 {
		bt.buf = sh.take()
		bt.seg = len(b)
		sh.dirty = append(sh.dirty, bt)
	} else if len(b) < bt.seg {
		bt.closed = true
	}
	bt.buf = append(bt.buf, b...)
	bt.count++
	sh.mu.Unlock()
	return len(b), nil
}

// WriteTo implements net.PacketConn.
func (c *BatchConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, errors.New("media: not a UDP address")
	}
	return c.WriteToAddrPort(b, ua.AddrPort())
}

// DisableGSO makes every packet its own send (for comparison and for kernels
// where GSO misbehaves).
func (c *BatchConn) DisableGSO() { c.gso.Store(false) }

// GSO reports whether batches still go out as GSO messages.
func (c *BatchConn) GSO() bool { return c.gso.Load() }

// Flush sends every queued batch.
func (c *BatchConn) Flush() {
	var now time.Time
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		if len(sh.dirty) > 0 && now.IsZero() {
			now = time.Now()
		}
		for _, bt := range sh.dirty {
			if bt.count > 0 {
				c.send(i, bt)
				sh.releaseBuf(bt)
				bt.used = now
			}
		}
		sh.dirty = sh.dirty[:0]
		sh.sweep(now)
		sh.mu.Unlock()
	}
}

// flushAddr sends addr's queued packets, so that what follows stays in order.
func (c *BatchConn) flushAddr(addr netip.AddrPort) {
	i := c.shardOf(addr)
	sh := &c.shards[i]
	sh.mu.Lock()
	if bt := sh.pending[addr]; bt != nil && bt.count > 0 {
		c.send(i, bt)
		sh.release(bt)
	}
	sh.mu.Unlock()
}

func (c *BatchConn) shardOf(addr netip.AddrPort) int {
	var h maphash.Hash
	h.SetSeed(c.seed)
	a := addr.Addr().As16()
	h.Write(a[:])
	_ = h.WriteByte(byte(addr.Port()))
	_ = h.WriteByte(byte(addr.Port() >> 8))
	return int(h.Sum64() % batchShards)
}

// send writes bt as one GSO message, or segment by segment when it holds one
// packet or the kernel refuses GSO. Errors are dropped as UDP drops packets:
// RTP recovers by NACK.
func (c *BatchConn) send(shard int, bt *batch) {
	if bt.count == 1 || !c.gso.Load() {
		c.sendEach(bt)
		return
	}
	oob := c.oob[shard]
	h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level = syscall.IPPROTO_UDP
	h.Type = udpSegment
	h.SetLen(syscall.CmsgLen(2))
	binary.NativeEndian.PutUint16(oob[syscall.CmsgLen(0):], uint16(bt.seg))
	if _, _, err := c.conn.WriteMsgUDPAddrPort(bt.buf, oob, bt.addr); err != nil {
		if gsoUnsupported(err) && c.gso.Swap(false) {
			c.log.Warn("media: UDP GSO refused by the kernel; sending packets one by one", "err", err)
		}
		if !c.gso.Load() {
			c.sendEach(bt)
		}
	}
}

func (c *BatchConn) sendEach(bt *batch) {
	for off := 0; off < len(bt.buf); off += bt.seg {
		end := min(off+bt.seg, len(bt.buf))
		_, _ = c.conn.WriteToUDPAddrPort(bt.buf[off:end], bt.addr)
	}
}

func gsoUnsupported(err error) bool {
	return errors.Is(err, syscall.EIO) || errors.Is(err, syscall.EINVAL) ||
		errors.Is(err, syscall.ENOPROTOOPT) || errors.Is(err, syscall.EOPNOTSUPP)
}

// take returns an empty buffer for a new batch.
func (sh *batchShard) take() []byte {
	if n := len(sh.free); n > 0 {
		b := sh.free[n-1]
		sh.free = sh.free[:n-1]
		return b[:0]
	}
	return make([]byte, 0, firstBuffer)
}

// release empties bt after a send outside Flush, taking it off the dirty list.
func (sh *batchShard) release(bt *batch) {
	for i, d := range sh.dirty {
		if d == bt {
			last := len(sh.dirty) - 1
			sh.dirty[i] = sh.dirty[last]
			sh.dirty = sh.dirty[:last]
			break
		}
	}
	sh.releaseBuf(bt)
}

func (sh *batchShard) releaseBuf(bt *batch) {
	sh.free = append(sh.free, bt.buf)
	bt.buf, bt.count, bt.seg, bt.closed = nil, 0, 0, false
}

// sweep forgets destinations idle for idleBatch, at most every few seconds.
func (sh *batchShard) sweep(now time.Time) {
	if now.IsZero() || now.Sub(sh.swept) < 5*time.Second {
		return
	}
	sh.swept = now
	for addr, bt := range sh.pending {
		if bt.count == 0 && now.Sub(bt.used) > idleBatch {
			delete(sh.pending, addr)
		}
	}
	// At peak every known destination holds a buffer; beyond that they are spare.
	if len(sh.free) > len(sh.pending) {
		clear(sh.free[len(sh.pending):])
		sh.free = sh.free[:len(sh.pending)]
	}
}

// ReadFromAddrPort implements ice.AddrPortReaderWriter.
func (c *BatchConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	return c.conn.ReadFromUDPAddrPort(b)
}

// ReadFrom implements net.PacketConn.
func (c *BatchConn) ReadFrom(b []byte) (int, net.Addr, error) { return c.conn.ReadFrom(b) }

// Close implements net.PacketConn.
func (c *BatchConn) Close() error { return c.conn.Close() }

// LocalAddr implements net.PacketConn.
func (c *BatchConn) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// SetDeadline implements net.PacketConn.
func (c *BatchConn) SetDeadline(t time.Time) error { return c.conn.SetDeadline(t) }

// SetReadDeadline implements net.PacketConn.
func (c *BatchConn) SetReadDeadline(t time.Time) error { return c.conn.SetReadDeadline(t) }

// SetWriteDeadline implements net.PacketConn.
func (c *BatchConn) SetWriteDeadline(t time.Time) error { return c.conn.SetWriteDeadline(t) }
