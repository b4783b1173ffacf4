package cluster

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/talkrelay/talkrelay/room"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// statePoll is how often a parent compares a relayed live's state with what
// it last told the edge (mute, end, a new publisher stream or codec).
const statePoll = 100 * time.Millisecond

// sendQueue bounds the datagrams waiting for one edge connection; beyond it
// packets are dropped (the edge NACKs what matters) rather than delaying the
// publisher's reader.
const sendQueue = 1024

// relayServer serves relay subscriptions: the parent side.
type relayServer struct {
	ln    *quic.Listener
	rooms *room.Manager
	log   *slog.Logger

	mu       sync.Mutex
	children map[string]int // subscriptions per room
	dropped  atomic.Uint64
	wg       sync.WaitGroup
}

// serve accepts edge connections until the listener closes. Owned by the Node.
func (s *relayServer) serve(ctx context.Context) {
	for {
		conn, err := s.ln.Accept(ctx)
		if err != nil {
			return
		}
		s.wg.Add(1)
		// Connection handler: owned by the server, ends with the connection.
		go s.handleConn(ctx, conn)
	}
}

func (s *relayServer) childCounts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copyCounts(s.children)
}

func copyCounts(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (s *relayServer) handleConn(ctx context.Context, conn *quic.Conn) {
	defer s.wg.Done()
	out := make(chan []byte, sendQueue)
	ctx, cancel := context.WithCancel(conn.Context())
	defer cancel()
	// Datagram sender: owned by the connection, ends with it.
	go s.sendDatagrams(ctx, conn, out)
	for {
		st, err := conn.AcceptStream(ctx)
		if err != nil {
			return
		}
		// Subscription: owned by the connection, ends when either side closes the stream.
		go s.subscription(ctx, st, out)
	}
}

// sendDatagrams sends the datagrams queued for one edge connection until ctx
// ends or the connection fails.
func (s *relayServer) sendDatagrams(ctx context.Context, conn *quic.Conn, out <-chan []byte) {
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-out:
			if err := conn.SendDatagram(b); err != nil {
				var tooLarge *quic.DatagramTooLargeError
				if errors.As(err, &tooLarge) {
					s.dropped.Add(1)
					continue
				}
				return
			}
		}
	}
}

// subscription serves one room to one edge.
func (s *relayServer) subscription(ctx context.Context, st *quic.Stream, out chan []byte) {
	defer st.Close()
	defer st.CancelRead(0)
	rd := newCtrlReader(st)
	first, err := rd.next()
	if err != nil || first.Op != opSubscribe {
		return
	}
	name := first.Room
	log := s.log.With("room", name, "sub", first.Sub)
	state, err := s.rooms.RelayState(name)
	if err != nil {
		_ = writeCtrl(st, ctrl{Op: opEnded})
		return
	}
	sink := &relaySink{sub: first.Sub, out: out, dropped: &s.dropped}
	untap, err := s.rooms.Tap(name, sink)
	if err != nil {
		_ = writeCtrl(st, ctrl{Op: opEnded})
		return
	}
	defer untap()
	s.mu.Lock()
	s.children[name]++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.children[name]--; s.children[name] <= 0 {
			delete(s.children, name)
		}
		s.mu.Unlock()
	}()
	if err := writeCtrl(st, ctrl{Op: opState, State: &state}); err != nil {
		return
	}
	s.rooms.RequestKeyframe(name) // the edge's viewers start at once
	log.Debug("relay subscription")

	readErr := make(chan error, 1)
	// Control reader: owned by the subscription, ends when the stream does.
	go func() {
		for {
			m, err := rd.next()
			if err != nil {
				readErr <- err
				return
			}
			switch m.Op {
			case opPLI:
				s.rooms.RequestKeyframe(name)
			case opNACK:
				sink.resend(m.Track, m.Seqs)
			}
		}
	}()
	tick := time.NewTicker(statePoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-readErr:
			return
		case <-tick.C:
		}
		cur, err := s.rooms.RelayState(name)
		if err != nil {
			_ = writeCtrl(st, ctrl{Op: opEnded, Live: s.endRecord(name, state.Live)})
			return
		}
		if cur.Live.ID != state.Live.ID || !sameTracks(cur.Tracks, state.Tracks) || cur.Interrupted != state.Interrupted {
			state = cur
			if writeCtrl(st, ctrl{Op: opState, State: &cur}) != nil {
				return
			}
			continue
		}
		for kind, muted := range [2]bool{cur.Muted.Audio, cur.Muted.Video} {
			if muted != [2]bool{state.Muted.Audio, state.Muted.Video}[kind] {
				if writeCtrl(st, ctrl{Op: opMuted, Kind: kind, Muted: muted}) != nil {
					return
				}
			}
		}
		state = cur
	}
}

// endRecord is the ended live's record as stored by the origin (it is saved
// just after the live ends), or what is known of it.
func (s *relayServer) endRecord(name string, l wire.Live) *wire.Live {
	for range 10 {
		recs, err := s.rooms.Lives().Lives(context.Background(), name)
		if err == nil {
			for _, r := range recs {
				if r.ID == l.ID {
					w := wire.Live{
						ID: r.ID, State: wire.LiveEnded, Host: r.Host, HostName: r.HostName,
						StartedAt: r.StartedAt.UnixMilli(), EndedAt: r.EndedAt.UnixMilli(),
						DurationMS: r.DurationMS, PeakViewers: r.PeakViewers, EndReason: r.EndReason,
					}
					return &w
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	end := time.Now()
	l.State, l.EndedAt, l.EndReason = wire.LiveEnded, end.UnixMilli(), wire.EndHostLeft
	l.DurationMS = end.UnixMilli() - l.StartedAt
	return &l
}

func sameTracks(a, b []room.RelayTrack) bool {
	return slices.EqualFunc(a, b, func(x, y room.RelayTrack) bool {
		return x.Kind == y.Kind && x.Codec.MimeType == y.Codec.MimeType && slices.Equal(x.RIDs, y.RIDs)
	})
}

// nackRing is how many recent packets per track a parent keeps to answer an
// edge's NACKs.
const nackRing = 512

// relaySink turns a room's packets into datagrams for one subscription and
// keeps the recent ones for retransmission.
type relaySink struct {
	sub     uint32
	out     chan<- []byte
	dropped *atomic.Uint64

	mu   sync.Mutex
	ring map[uint8]*[nackRing][]byte
}

// Packet implements room.PacketSink: one copy per edge, never blocking.
func (k *relaySink) Packet(kind, layer int, gen uint8, pkt []byte) {
	if len(pkt) < 12 {
		return
	}
	t := trackID(kind, layer)
	b := make([]byte, dgramHeader+len(pkt))
	putHeader(b, k.sub, t, gen)
	copy(b[dgramHeader:], pkt)
	k.mu.Lock()
	if k.ring == nil {
		k.ring = map[uint8]*[nackRing][]byte{}
	}
	r := k.ring[t]
	if r == nil {
		r = new([nackRing][]byte)
		k.ring[t] = r
	}
	r[rtpSeq(pkt)%nackRing] = b
	k.mu.Unlock()
	k.send(b)
}

func (k *relaySink) send(b []byte) {
	select {
	case k.out <- b:
	default:
		k.dropped.Add(1)
	}
}

// resend sends again the packets an edge missed, those still kept.
func (k *relaySink) resend(t uint8, seqs []uint16) {
	k.mu.Lock()
	var again [][]byte
	if r := k.ring[t]; r != nil {
		for _, seq := range seqs {
			if b := r[seq%nackRing]; b != nil && rtpSeq(b[dgramHeader:]) == seq {
				again = append(again, b)
			}
		}
	}
	k.mu.Unlock()
	for _, b := range again {
		k.send(b)
	}
}
