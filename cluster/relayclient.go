package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/talkrelay/talkrelay/media"
	"github.com/talkrelay/talkrelay/room"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// quicConfig is the relay's QUIC configuration, both sides.
func quicConfig() *quic.Config {
	return &quic.Config{
		EnableDatagrams: true,
		MaxIdleTimeout:  3 * time.Second, // a dead parent is noticed within it
		KeepAlivePeriod: time.Second,
		// RTP packets of about 1,200 bytes plus our header must fit one
		// datagram from the first packet on; relay paths are ours to size.
		InitialPacketSize: 1400,
	}
}

// relayClient holds the edge side's connections, one per parent node.
type relayClient struct {
	tls *tls.Config
	log *slog.Logger

	mu    sync.Mutex
	conns map[string]*edgeConn // by relay address
	next  uint32               // subscription ids
}

// edgeConn is one QUIC connection to a parent and the pulls it carries.
type edgeConn struct {
	conn *quic.Conn
	mu   sync.Mutex
	subs map[uint32]*pull
}

// connect returns the connection to addr, dialing it if needed.
func (c *relayClient) connect(ctx context.Context, addr string) (*edgeConn, error) {
	c.mu.Lock()
	ec := c.conns[addr]
	c.mu.Unlock()
	if ec != nil && ec.conn.Context().Err() == nil {
		return ec, nil
	}
	dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := quic.DialAddr(dctx, addr, c.tls, quicConfig())
	if err != nil {
		return nil, fmt.Errorf("cluster: dial relay %s: %w", addr, err)
	}
	ec = &edgeConn{conn: conn, subs: map[uint32]*pull{}}
	c.mu.Lock()
	if old := c.conns[addr]; old != nil && old.conn.Context().Err() == nil {
		c.mu.Unlock()
		_ = conn.CloseWithError(0, "duplicate")
		return old, nil
	}
	c.conns[addr] = ec
	c.mu.Unlock()
	// Datagram reader: owned by the connection, ends with it.
	go ec.readDatagrams()
	return ec, nil
}

func (c *relayClient) newSub() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next++
	return c.next
}

func (c *relayClient) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ec := range c.conns {
		_ = ec.conn.CloseWithError(0, "node shutting down")
	}
	clear(c.conns)
}

func (ec *edgeConn) readDatagrams() {
	for {
		b, err := ec.conn.ReceiveDatagram(context.Background())
		if err != nil {
			return
		}
		sub, track, gen, pkt, ok := parseHeader(b)
		if !ok {
			continue
		}
		ec.mu.Lock()
		p := ec.subs[sub]
		ec.mu.Unlock()
		if p != nil {
			p.deliver(track, gen, pkt)
		}
	}
}

// pull relays one room's live from a parent node to this node's viewers.
type pull struct {
	n      *Node
	room   string
	parent string // node id
	depth  int    // the parent's depth + 1
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	ctrlOut chan ctrl

	mu     sync.Mutex
	rl     *room.RemoteLive
	liveID string
	tracks map[uint8]*relayTrack
	kinds  map[uint8]int // track → kind, for re-attaching
	ended  bool          // the parent said the live ended
	lost   time.Time     // when a session showing the live failed; zero once a state arrives
}

// run pulls until cancelled or the live ends, reconnecting to the same
// parent after a failure (the Node picks another parent by cancelling).
// Owned by the Node; ends when its context is cancelled or the live ends.
func (p *pull) run() {
	defer close(p.done)
	for p.ctx.Err() == nil {
		err := p.once()
		p.mu.Lock()
		ended := p.ended
		if err != nil && p.rl != nil && p.lost.IsZero() {
			p.lost = time.Now()
		}
		p.mu.Unlock()
		if ended {
			return
		}
		if err != nil && p.ctx.Err() == nil {
			p.n.log.Debug("relay pull failed; retrying", "room", p.room, "parent", p.parent, "err", err)
		}
		select {
		case <-p.ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (p *pull) once() error {
	info, ok := p.n.reg.alive(p.parent)
	if !ok {
		return errors.New("parent not alive")
	}
	ec, err := p.n.client.connect(p.ctx, info.Relay)
	if err != nil {
		return err
	}
	st, err := ec.conn.OpenStreamSync(p.ctx)
	if err != nil {
		return err
	}
	sub := p.n.client.newSub()
	ec.mu.Lock()
	ec.subs[sub] = p
	ec.mu.Unlock()
	ctx, cancel := context.WithCancel(p.ctx)
	defer func() {
		cancel()
		ec.mu.Lock()
		delete(ec.subs, sub)
		ec.mu.Unlock()
		st.CancelRead(0)
		_ = st.Close()
	}()
	if err := writeCtrl(st, ctrl{Op: opSubscribe, Room: p.room, Sub: sub}); err != nil {
		return err
	}
	// Control writer: owned by this session, ends with it.
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case m := <-p.ctrlOut:
				if writeCtrl(st, m) != nil {
					return
				}
			}
		}
	}()
	// The stream's reads end when the session does.
	go func() {
		<-ctx.Done()
		st.CancelRead(0)
	}()
	rd := newCtrlReader(st)
	for {
		m, err := rd.next()
		if err != nil {
			return err
		}
		switch m.Op {
		case opState:
			if m.State == nil {
				continue
			}
			if err := p.apply(*m.State); err != nil {
				return err
			}
		case opMuted:
			p.mu.Lock()
			rl := p.rl
			p.mu.Unlock()
			if rl != nil {
				rl.SetMuted(m.Kind, m.Muted)
			}
		case opEnded:
			p.end(m.Live)
			return nil
		}
	}
}

// apply shows the parent's live state here: a new live (or new tracks) gets
// new local feeds; the same live continues on its feeds.
func (p *pull) apply(st room.RelayState) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lost = time.Time{}
	if p.rl != nil && p.liveID == st.Live.ID && len(p.tracks) == countLayers(st.Tracks) {
		p.rl.SetMuted(room.RelayAudio, st.Muted.Audio)
		p.rl.SetMuted(room.RelayVideo, st.Muted.Video)
		p.rl.SetInterrupted(st.Interrupted)
		return nil
	}
	rl, err := p.n.rooms.AttachRemote(p.room, st)
	if err != nil {
		return err
	}
	for _, t := range p.tracks {
		if t != nil {
			t.close()
		}
	}
	p.rl, p.liveID = rl, st.Live.ID
	p.tracks, p.kinds = map[uint8]*relayTrack{}, map[uint8]int{}
	for _, t := range st.Tracks {
		for layer := range max(1, len(t.RIDs)) {
			id := trackID(t.Kind, layer)
			p.kinds[id] = t.Kind
			p.tracks[id] = nil // attached at its first packet, which gives its generation
		}
	}
	return nil
}

func countLayers(ts []room.RelayTrack) int {
	n := 0
	for _, t := range ts {
		n += max(1, len(t.RIDs))
	}
	return n
}

// deliver passes a datagram's packet to its track. A new generation (the
// publisher's stream was replaced at the origin) gets a new track, attached
// as the feed's new source, so the feed starts its new sequence space cleanly.
func (p *pull) deliver(id, gen uint8, pkt []byte) {
	p.mu.Lock()
	t, known := p.tracks[id]
	if !known || p.rl == nil {
		p.mu.Unlock()
		return
	}
	if t == nil || t.gen != gen {
		if t != nil {
			t.close()
		}
		t = newRelayTrack(id, gen, p.nack)
		p.tracks[id] = t
		kind, layer := splitTrack(id)
		rl := p.rl
		// Attach waits for the old source's reader; not on this goroutine.
		go rl.Attach(kind, layer, t, media.Upstream{RequestKeyframe: p.pli})
	}
	p.mu.Unlock()
	t.push(pkt)
}

func (p *pull) pli() {
	select {
	case p.ctrlOut <- ctrl{Op: opPLI}:
	default:
	}
}

func (p *pull) nack(track uint8, seqs []uint16) {
	select {
	case p.ctrlOut <- ctrl{Op: opNACK, Track: track, Seqs: seqs}:
	default:
	}
}

// end ends the relayed live here with rec (nil: silently).
func (p *pull) end(rec *wire.Live) {
	p.mu.Lock()
	rl := p.rl
	p.rl = nil
	p.ended = true
	for _, t := range p.tracks {
		if t != nil {
			t.close()
		}
	}
	p.tracks = nil
	p.mu.Unlock()
	if rl != nil {
		rl.End(rec)
	}
}

// detach stops the pull's tracks but leaves its live shown here: another
// pull, or the host publishing here, carries it on with the same feeds.
// reason, when set, shows the live interrupted meanwhile.
func (p *pull) detach(reason string) {
	p.mu.Lock()
	rl := p.rl
	for _, t := range p.tracks {
		if t != nil {
			t.close()
		}
	}
	p.tracks = nil
	p.mu.Unlock()
	if rl != nil && reason != "" {
		rl.SetInterrupted(reason)
	}
}

// interrupt shows the pull's live interrupted for reason while it retries.
func (p *pull) interrupt(reason string) {
	p.mu.Lock()
	rl := p.rl
	p.mu.Unlock()
	if rl != nil {
		rl.SetInterrupted(reason)
	}
}

// downFor is how long the relay of a live shown here has been down (0 while
// it is up, or before it first came up).
func (p *pull) downFor() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lost.IsZero() || p.rl == nil {
		return 0
	}
	return time.Since(p.lost)
}

// attached reports whether the pull shows a live here.
func (p *pull) attached() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rl != nil
}
