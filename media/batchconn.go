package media

import (
	"encoding/binary"
	"errors"
	"hash/maphash"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/ipv4"
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
	batch  batchWriter // sendmmsg: one system call for a whole flush
	read   datagramReader
	write  datagramWriter // one datagram (or GSO message) at once
	log    *slog.Logger
	gso    atomic.Bool // false once the kernel refused a GSO send
	seed   maphash.Seed
	shards [batchShards]batchShard

	flushMu sync.Mutex     // one flush at a time owns the scratch below
	msgs    []ipv4.Message // the flush's messages
	sent    []sentBuf      // their buffers, to reuse after the send
	oobs    [][]byte       // their UDP_SEGMENT control messages
}

// sentBuf is a batch buffer in flight, and the shard whose free list takes it back.
type sentBuf struct {
	buf   []byte
	shard int
}

const (
	batchShards = 16
	// maxSegments bounds a batch: a frame's packets to one viewer, well inside
	// the kernel's limit of 64 segments and 64 KiB.
	maxSegments = 32
	batchBytes  = 48 << 10
	// maxSealed bounds the runs one destination holds between flushes.
	maxSealed = 8
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

// batch is the packets waiting for one destination: the open run, and runs
// closed earlier in the same round (a shorter packet ended them, or one of
// another size came: audio between video frames), sent first at the flush.
type batch struct {
	addr   netip.AddrPort
	udp    *net.UDPAddr // addr for sendmmsg, made once per destination
	oob    []byte       // the UDP_SEGMENT control message
	cur    segRun
	closed bool // a short segment ended cur
	sealed []segRun
	used   time.Time
}

// segRun is packets of one size, the last of which may be shorter: one GSO
// message.
type segRun struct {
	buf   []byte
	seg   int
	count int
}

func (bt *batch) empty() bool { return bt.cur.count == 0 && len(bt.sealed) == 0 }

// NewBatchConn wraps conn; it owns conn from now on.
func NewBatchConn(conn *net.UDPConn, log *slog.Logger) *BatchConn {
	c := &BatchConn{conn: conn, batch: newBatchWriter(conn), read: newDatagramReader(conn), write: newDatagramWriter(conn), log: log, seed: maphash.MakeSeed()}
	c.gso.Store(true)
	for i := range c.shards {
		c.shards[i].pending = map[netip.AddrPort]*batch{}
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
		return c.write(b, nil, addr)
	}
	sh := &c.shards[c.shardOf(addr)]
	sh.mu.Lock()
	cur := c.slot(sh, addr, len(b))
	cur.buf = append(cur.buf, b...)
	cur.count++
	sh.mu.Unlock()
	return len(b), nil
}

// packetSealer writes one packet of a length known in advance straight into
// its batch: the direct path encrypts there instead of into a buffer of its
// own that would then be copied.
type packetSealer interface {
	seal(dst []byte) error
}

// writeSealed queues an n-byte RTP packet that s writes in place. With GSO
// off or a packet too large to batch it returns errCannotSeal: the caller
// writes it the ordinary way.
func (c *BatchConn) writeSealed(addr netip.AddrPort, n int, s packetSealer) error {
	if !c.gso.Load() || n > batchBytes/maxSegments {
		return errCannotSeal
	}
	sh := &c.shards[c.shardOf(addr)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	cur := c.slot(sh, addr, n)
	start := len(cur.buf)
	cur.buf = slices.Grow(cur.buf, n)[:start+n]
	if err := s.seal(cur.buf[start:]); err != nil {
		cur.buf = cur.buf[:start]
		return err
	}
	cur.count++
	return nil
}

var errCannotSeal = errors.New("media: packet not batched")

// slot returns the run an n-byte RTP packet to addr joins, closing the open
// run first when the packet cannot join it. The caller holds sh.mu, appends
// the packet's bytes and counts it.
func (c *BatchConn) slot(sh *batchShard, addr netip.AddrPort, n int) *segRun {
	bt := sh.pending[addr]
	if bt == nil {
		bt = &batch{addr: addr, udp: net.UDPAddrFromAddrPort(addr), oob: make([]byte, syscall.CmsgSpace(2))}
		sh.pending[addr] = bt
	}
	cur := &bt.cur
	if cur.count > 0 && (bt.closed || n > cur.seg || cur.count == maxSegments || len(cur.buf)+n > batchBytes) {
		if len(bt.sealed) < maxSealed {
			bt.sealed = append(bt.sealed, *cur)
			*cur, bt.closed = segRun{}, false
		} else { // a destination flooded within one round: send now, bounding memory
			c.send(bt)
			sh.release(bt)
		}
	}
	if bt.empty() {
		sh.dirty = append(sh.dirty, bt)
	}
	if cur.count == 0 {
		*cur = segRun{buf: sh.take(), seg: n}
	} else if n < cur.seg {
		bt.closed = true
	}
	return cur
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

// Flush sends every queued batch, all in one sendmmsg system call: each batch
// is one message, a GSO message when it holds several packets.
func (c *BatchConn) Flush() {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	c.msgs, c.sent = c.msgs[:0], c.sent[:0]
	var now time.Time
	gso := c.gso.Load()
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		if len(sh.dirty) > 0 && now.IsZero() {
			now = time.Now()
		}
		for _, bt := range sh.dirty {
			for _, r := range bt.sealed {
				c.queue(r, bt.udp, gso)
				c.sent = append(c.sent, sentBuf{buf: r.buf, shard: i})
			}
			if bt.cur.count > 0 {
				c.queue(bt.cur, bt.udp, gso)
				c.sent = append(c.sent, sentBuf{buf: bt.cur.buf, shard: i})
			}
			// The buffers leave the batch: new packets for this destination
			// start a new batch while they are in the system call.
			clear(bt.sealed)
			bt.sealed, bt.cur, bt.closed, bt.used = bt.sealed[:0], segRun{}, false, now
		}
		sh.dirty = sh.dirty[:0]
		sh.sweep(now)
		sh.mu.Unlock()
	}
	c.writeMsgs()
	for j, sb := range c.sent {
		sh := &c.shards[sb.shard]
		sh.mu.Lock()
		sh.free = append(sh.free, sb.buf[:0])
		sh.mu.Unlock()
		c.sent[j] = sentBuf{}
	}
}

// flushAddr sends addr's queued packets, so that what follows stays in order.
func (c *BatchConn) flushAddr(addr netip.AddrPort) {
	i := c.shardOf(addr)
	sh := &c.shards[i]
	sh.mu.Lock()
	if bt := sh.pending[addr]; bt != nil && !bt.empty() {
		c.send(bt)
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

// queue adds a run to the flush's messages: one GSO message, or one message
// per packet when GSO is off.
func (c *BatchConn) queue(r segRun, udp *net.UDPAddr, gso bool) {
	if r.count == 1 || !gso {
		for off := 0; off < len(r.buf); off += r.seg {
			c.addMsg(r.buf[off:min(off+r.seg, len(r.buf))], nil, udp)
		}
		return
	}
	k := len(c.msgs)
	for len(c.oobs) <= k {
		c.oobs = append(c.oobs, make([]byte, syscall.CmsgSpace(2)))
	}
	segmentOption(c.oobs[k], r.seg)
	c.addMsg(r.buf, c.oobs[k], udp)
}

// addMsg appends a message, reusing the one-element Buffers slices of earlier
// flushes so that a flush allocates nothing.
func (c *BatchConn) addMsg(buf, oob []byte, addr *net.UDPAddr) {
	if len(c.msgs) < cap(c.msgs) {
		c.msgs = c.msgs[:len(c.msgs)+1]
	} else {
		c.msgs = append(c.msgs, ipv4.Message{})
	}
	m := &c.msgs[len(c.msgs)-1]
	if cap(m.Buffers) == 0 {
		m.Buffers = make([][]byte, 1)
	}
	m.Buffers = m.Buffers[:1]
	m.Buffers[0], m.OOB, m.Addr = buf, oob, addr
}

// datagramReader reads one datagram and its source.
type datagramReader func(b []byte) (int, netip.AddrPort, error)

// datagramWriter sends one datagram, or one GSO message given its control
// message in oob.
type datagramWriter func(b, oob []byte, addr netip.AddrPort) (int, error)

// batchWriter sends a flush's messages, one buffer each, and returns how many
// went out; on an error msgs[n] is the one refused.
type batchWriter interface {
	writeBatch(msgs []ipv4.Message) (int, error)
}

// pcWriter is the portable batchWriter.
type pcWriter struct{ pc *ipv4.PacketConn }

func (w pcWriter) writeBatch(msgs []ipv4.Message) (int, error) { return w.pc.WriteBatch(msgs, 0) }

// writeMsgs sends the flush's messages. A message the kernel refuses is
// dropped as UDP drops packets (RTP recovers by NACK); a refused GSO message
// turns GSO off and goes out packet by packet.
func (c *BatchConn) writeMsgs() {
	msgs := c.msgs
	for len(msgs) > 0 {
		n, err := c.batch.writeBatch(msgs)
		if err == nil {
			msgs = msgs[n:]
			continue
		}
		failed := msgs[n]
		msgs = msgs[n+1:]
		if failed.OOB != nil && gsoUnsupported(err) {
			if c.gso.Swap(false) {
				c.log.Warn("media: UDP GSO refused by the kernel; sending packets one by one", "err", err)
			}
			c.resendSegments(failed)
		}
	}
	for i := range c.msgs {
		m := &c.msgs[i]
		m.Buffers[0], m.OOB, m.Addr = nil, nil, nil
	}
}

// resendSegments sends a refused GSO message's packets one by one.
func (c *BatchConn) resendSegments(m ipv4.Message) {
	seg := int(binary.NativeEndian.Uint16(m.OOB[syscall.CmsgLen(0):]))
	buf := m.Buffers[0]
	addr := m.Addr.(*net.UDPAddr).AddrPort()
	for off := 0; off < len(buf); off += seg {
		_, _ = c.write(buf[off:min(off+seg, len(buf))], nil, addr)
	}
}

// segmentOption writes the UDP_SEGMENT control message for segments of seg bytes.
func segmentOption(oob []byte, seg int) {
	h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level = syscall.IPPROTO_UDP
	h.Type = udpSegment
	h.SetLen(syscall.CmsgLen(2))
	binary.NativeEndian.PutUint16(oob[syscall.CmsgLen(0):], uint16(seg))
}

// send writes bt's runs at once (outside a flush), in order.
func (c *BatchConn) send(bt *batch) {
	for _, r := range bt.sealed {
		c.sendRun(r, bt)
	}
	if bt.cur.count > 0 {
		c.sendRun(bt.cur, bt)
	}
}

// sendRun writes one run: one GSO message, or packet by packet.
func (c *BatchConn) sendRun(r segRun, bt *batch) {
	if r.count == 1 || !c.gso.Load() {
		c.sendEach(r, bt.addr)
		return
	}
	segmentOption(bt.oob, r.seg)
	if _, err := c.write(r.buf, bt.oob, bt.addr); err != nil && gsoUnsupported(err) {
		if c.gso.Swap(false) {
			c.log.Warn("media: UDP GSO refused by the kernel; sending packets one by one", "err", err)
		}
		c.sendEach(r, bt.addr)
	}
}

func (c *BatchConn) sendEach(r segRun, addr netip.AddrPort) {
	for off := 0; off < len(r.buf); off += r.seg {
		end := min(off+r.seg, len(r.buf))
		_, _ = c.write(r.buf[off:end], nil, addr)
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
	for _, r := range bt.sealed {
		sh.free = append(sh.free, r.buf)
	}
	if bt.cur.buf != nil {
		sh.free = append(sh.free, bt.cur.buf)
	}
	clear(bt.sealed)
	bt.sealed, bt.cur, bt.closed = bt.sealed[:0], segRun{}, false
}

// sweep forgets destinations idle for idleBatch, at most every few seconds.
func (sh *batchShard) sweep(now time.Time) {
	if now.IsZero() || now.Sub(sh.swept) < 5*time.Second {
		return
	}
	sh.swept = now
	for addr, bt := range sh.pending {
		if bt.empty() && now.Sub(bt.used) > idleBatch {
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
	return c.read(b)
}

// ReadFrom implements net.PacketConn.
func (c *BatchConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := c.read(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(addr), nil
}

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
