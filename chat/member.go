package chat

import (
	"sync"
	"sync/atomic"
)

// Member is one participant's presence in a room's chat, returned by Hub.Join. The
// wiring feeds it the client's messages with Handle and calls Leave when the data
// channel closes.
//
// A member does not queue copies of the room's messages: it holds a cursor into the
// room's ring, so a member costs the same whether it is current or 200 behind.
type Member struct {
	hub  *Hub
	room *room
	who  Participant
	rec  Recipient
	left atomic.Bool

	idx int // place in room.members, guarded by room.mu

	mu     sync.Mutex
	out    []outFrame // replies and notices not yet sent, at most Config.ControlLimit
	lost   int        // replies and notices dropped because out was full
	cursor uint64     // the last Seq this member was sent or has skipped
	gapLo  uint64     // a gap to announce before the next messages (0: none)
	gapHi  uint64
	hidden bool
	dead   bool // left, kicked, or its Recipient failed: send nothing more
}

// outFrame is a frame waiting in a member's out queue. Notices belong to the room's
// stream and wait while chat is hidden; replies answer the member's own requests
// and go out regardless.
type outFrame struct {
	b      []byte
	notice bool
}

// Participant returns who this member is.
func (m *Member) Participant() Participant { return m.who }

// Room returns the name of the member's room.
func (m *Member) Room() string { return m.room.name }

// Leave removes the member from its room; the room's flusher ends with its last
// member. Calling it again, or after a kick or ban removed the member, does nothing.
func (m *Member) Leave() {
	if !m.left.CompareAndSwap(false, true) {
		return
	}
	m.mu.Lock()
	m.dead = true
	m.out = nil
	m.mu.Unlock()
	m.room.unregister(m)
	m.hub.release(m.room)
}

// Drained tells the hub that the recipient's buffer has drained, so a held-back
// member is retried now (a large room: at its next batch) rather than after up to
// BatchInterval. Wire it to the data channel's buffered-amount-low event; without
// it the hub still retries every BatchInterval.
func (m *Member) Drained() { m.room.poke() }

// enqueue adds f to the out queue, dropping the oldest frame when full: a member
// this far behind has stopped reading, and it must not hold unbounded memory.
// The caller holds m.mu.
func (m *Member) enqueue(f outFrame) {
	if m.dead {
		return
	}
	if len(m.out) >= m.hub.cfg.ControlLimit {
		m.out = append(m.out[:0], m.out[1:]...)
		m.lost++
		if m.lost == 1 {
			m.hub.log.Warn("chat: recipient too slow, dropping replies and notices",
				"room", m.room.name, "identity", m.who.Identity)
		}
	}
	m.out = append(m.out, f)
}

// reply queues b for this member and sends it at once if the recipient can take it.
func (m *Member) reply(b []byte) {
	m.mu.Lock()
	m.enqueue(outFrame{b: b})
	pending := !m.sendOut()
	m.mu.Unlock()
	if pending {
		m.room.poke() // the flusher retries while the recipient drains
	}
}

// trySend sends b unless the recipient is over the high-water mark; the hub never
// calls Send on a backed-up recipient, so a stalled one cannot stall the caller.
// A Send error marks the member dead. The caller holds m.mu.
func (m *Member) trySend(b []byte) bool {
	if m.dead || m.rec.Buffered() > m.hub.cfg.HighWater {
		return false
	}
	if err := m.rec.Send(b); err != nil {
		m.dead = true
		m.out = nil
		m.hub.log.Debug("chat: send failed; delivering nothing more to this member",
			"room", m.room.name, "identity", m.who.Identity, "err", err)
		return false
	}
	return true
}

// sendOut sends the out queue in order, keeping notices back while chat is hidden.
// It reports whether nothing sendable is left. The caller holds m.mu.
func (m *Member) sendOut() bool {
	kept := 0
	for i, f := range m.out {
		if f.notice && m.hidden {
			m.out[kept] = f
			kept++
			continue
		}
		if !m.trySend(f.b) {
			if m.dead {
				return true
			}
			kept += copy(m.out[kept:], m.out[i:])
			clear(m.out[kept:])
			m.out = m.out[:kept]
			return false
		}
	}
	clear(m.out[kept:])
	m.out = m.out[:kept]
	return true
}

// deliver brings the member up to head: queued replies and notices first, then a
// gap if messages were dropped, then the messages from the shared frames. It reports
// whether the member was held back and still has something to receive.
func (m *Member) deliver(head uint64, fc *frameCache) (pending bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dead {
		return false
	}
	if !m.sendOut() {
		return !m.dead
	}
	if m.hidden {
		return false // the cursor waits; unhide decides what is sent
	}
	if limit := uint64(m.hub.cfg.QueueLimit); head > m.cursor && head-m.cursor > limit {
		m.skipTo(head - limit)
	}
	if m.gapHi != 0 {
		if !m.trySend(gapFrame(m.gapLo, m.gapHi)) {
			return !m.dead
		}
		m.gapLo, m.gapHi = 0, 0
	}
	if m.cursor >= head {
		return false
	}
	for _, f := range fc.frames(m.room, m.cursor+1, head) {
		if !m.trySend(f.b) {
			return !m.dead
		}
		m.hub.met.ChatDelivered.Add(float64(f.last - m.cursor))
		m.cursor = f.last
	}
	m.cursor = head
	return false
}

// skipTo drops the messages after the cursor up to seq and remembers them as a gap
// (merged with one not yet announced). The caller holds m.mu.
func (m *Member) skipTo(seq uint64) {
	if seq <= m.cursor {
		return
	}
	if m.gapHi == 0 {
		m.gapLo = m.cursor + 1
	}
	m.hub.met.ChatDropped.Add(float64(seq - m.cursor))
	m.gapHi = seq
	m.cursor = seq
}

// setHidden switches the member's chat display. While hidden the cursor stands
// still; on showing again, up to HideCap missed messages follow from the ring and
// anything older is announced as a gap the client can refill from history.
func (m *Member) setHidden(hidden bool) {
	m.mu.Lock()
	was := m.hidden
	m.hidden = hidden
	if was && !hidden {
		head := m.room.head.Load()
		if limit := uint64(m.hub.cfg.HideCap); head > m.cursor && head-m.cursor > limit {
			m.skipTo(head - limit)
		}
	}
	m.mu.Unlock()
	if was && !hidden {
		m.room.poke()
	}
}
