package chat

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// room is one room's chat on this hub: its ring of recent messages, its members,
// its moderation state and its flusher. It lives while anything references it (a
// member, or a request or System call in progress) and is dropped with the last.
type room struct {
	hub  *Hub
	name string
	log  *slog.Logger
	mod  *moderator
	ring *ring

	refs  atomic.Int64  // members plus operations in progress; see Hub.acquire
	count atomic.Int64  // len(members), read by the flusher without the lock
	head  atomic.Uint64 // the newest Seq committed; written under mu
	epoch atomic.Uint64 // bumped by every delete and clear; written under mu

	quit     chan struct{} // closed by stop: ends the flusher
	stopOnce sync.Once
	wake     chan struct{} // capacity 1: see poke
	// appendSem admits one store append (or clear, or ring load) at a time, so that
	// commit order is Seq order; a channel rather than a mutex so waiting ends with
	// the caller's context.
	appendSem chan struct{}
	loaded    atomic.Bool

	mu       sync.Mutex // guards members, the ring's writes and head, bf*
	members  []*Member
	bfHead   uint64 // the join backfill last built, for head bfHead and epoch bfEpoch
	bfEpoch  uint64
	bfFrames []frame

	flushMu sync.Mutex
	fl      flushState
}

func newRoom(h *Hub, name string) *room {
	return &room{
		hub:       h,
		name:      name,
		log:       h.log.With("room", name),
		mod:       newModerator(&h.cfg),
		ring:      newRing(h.cfg.ringSize()),
		quit:      make(chan struct{}),
		wake:      make(chan struct{}, 1),
		appendSem: make(chan struct{}, 1),
	}
}

func (r *room) stop() { r.stopOnce.Do(func() { close(r.quit) }) }

// hold takes a reference for an operation by an existing member; it fails once the
// room has been dropped, so no operation runs on a room a newer one replaced.
func (r *room) hold() bool {
	for {
		n := r.refs.Load()
		if n <= 0 {
			return false
		}
		if r.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (r *room) lockAppend(ctx context.Context) error {
	select {
	case r.appendSem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("chat: room %s: waiting to append: %w", r.name, ctx.Err())
	}
}

func (r *room) unlockAppend() { <-r.appendSem }

// ensureLoaded fills the ring from the store the first time the room is used on
// this hub. The caller holds appendSem, so no append can slip between the read and
// the first commit.
func (r *room) ensureLoaded(ctx context.Context) error {
	if r.loaded.Load() {
		return nil
	}
	msgs, err := r.hub.cfg.Store.ChatHistory(ctx, r.name, 0, int(r.ring.size()))
	if err != nil {
		return fmt.Errorf("chat: room %s: load history: %w", r.name, err)
	}
	for _, m := range msgs {
		r.commit(m)
	}
	r.loaded.Store(true)
	return nil
}

// load is ensureLoaded for callers that do not hold appendSem.
func (r *room) load(ctx context.Context) error {
	if r.loaded.Load() {
		return nil
	}
	if err := r.lockAppend(ctx); err != nil {
		return err
	}
	defer r.unlockAppend()
	return r.ensureLoaded(ctx)
}

// append stores m and commits it for fan-out. Appends are serialized per room: the
// store assigns Seq under its own per-room ordering anyway, and committing in the
// order the store answers is what makes every member see one order.
func (r *room) append(ctx context.Context, m Message) (Message, error) {
	if err := r.lockAppend(ctx); err != nil {
		return Message{}, err
	}
	defer r.unlockAppend()
	if err := r.ensureLoaded(ctx); err != nil {
		return Message{}, err
	}
	start := time.Now()
	stored, err := r.hub.cfg.Store.AppendChat(ctx, m)
	r.hub.met.ChatStore.Observe(time.Since(start).Seconds())
	if err != nil {
		return Message{}, fmt.Errorf("chat: room %s: append: %w", r.name, err)
	}
	r.commitStored(ctx, stored)
	r.poke()
	return stored, nil
}

// commitStored commits a message the store just returned. A Seq beyond head+1
// means someone else (another node) stored messages in between: they are read back
// so members see no hole. The caller holds appendSem.
func (r *room) commitStored(ctx context.Context, m Message) {
	head := r.head.Load()
	if m.Seq <= head {
		return // already committed (loaded with the ring)
	}
	if m.Seq > head+1 {
		after := max(head, m.Seq-1-min(m.Seq-1, r.ring.size())) // only what the ring can hold
		fill, err := r.readBack(ctx, after, m.Seq-1)
		if err != nil {
			r.log.Warn("chat: reading back messages stored elsewhere failed", "after", after, "err", err)
		}
		for _, f := range fill {
			if f.Seq > r.head.Load() && f.Seq < m.Seq {
				r.commit(f)
			}
		}
	}
	r.commit(m)
}

// commit puts m in the ring and advances head. Encoding happens outside the lock;
// the lock makes the commit atomic with respect to a join's backfill.
func (r *room) commit(m Message) {
	e := &entry{seq: m.Seq, js: encode(m)}
	r.mu.Lock()
	r.ring.put(e)
	r.head.Store(m.Seq)
	r.mu.Unlock()
}

// register adds m at the room's current head: every Seq up to head goes in its
// backfill, every later one arrives live, so the seam has no gap and no duplicate.
// A member that holds the messages up to after (> 0) gets no backfill: its cursor
// starts there and the flusher delivers the rest as to any member behind; register
// reports whether it is behind.
func (r *room) register(m *Member, after uint64) (behind bool) {
	slow := r.mod.slowMode()
	r.mu.Lock()
	defer r.mu.Unlock()
	head := r.head.Load()
	var backfill []frame
	if after == 0 {
		backfill = r.backfill(head)
	}
	m.mu.Lock()
	m.cursor = head
	if after > 0 && after < head {
		m.cursor = after
		behind = true
	}
	for _, f := range backfill {
		m.enqueue(outFrame{b: f.b})
	}
	if slow > 0 {
		m.enqueue(outFrame{b: slowModeFrame(slow), notice: true})
	}
	m.mu.Unlock()
	m.idx = len(r.members)
	r.members = append(r.members, m)
	r.count.Store(int64(len(r.members)))
	return behind
}

// backfill returns the join backfill frames for head, shared by every member that
// joins before the next commit or delete: a live's opening rush of thousands of
// joins frames the history once. The caller holds r.mu.
func (r *room) backfill(head uint64) []frame {
	ep := r.epoch.Load()
	if r.bfFrames != nil && r.bfHead == head && r.bfEpoch == ep {
		return r.bfFrames
	}
	entries := r.ring.newest(nil, head, r.hub.cfg.HistoryOnJoin)
	r.bfFrames = buildFrames(make([]frame, 0, 1), livePrefix, entries, r.hub.cfg.MaxFrameBytes)
	r.bfHead, r.bfEpoch = head, ep
	return r.bfFrames
}

// unregister removes m from the member list (swap-remove: order is irrelevant).
func (r *room) unregister(m *Member) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := m.idx
	if i < 0 || i >= len(r.members) || r.members[i] != m {
		return
	}
	last := len(r.members) - 1
	r.members[i] = r.members[last]
	r.members[i].idx = i
	r.members[last] = nil
	r.members = r.members[:last]
	r.count.Store(int64(len(r.members)))
	m.idx = -1
}

// notifyLocked queues a room notice for every member. The caller holds r.mu, so
// the notice is queued before any later commit can be delivered.
func (r *room) notifyLocked(b []byte) {
	for _, m := range r.members {
		m.mu.Lock()
		m.enqueue(outFrame{b: b, notice: true})
		m.mu.Unlock()
	}
}

// notify queues a room notice for every member and wakes the flusher.
func (r *room) notify(b []byte) {
	r.mu.Lock()
	r.notifyLocked(b)
	r.mu.Unlock()
	r.poke()
}

// deleted hides seq from deliveries not yet made and tells every member. The flag
// and the epoch change before the notice is queued; see frameCache.frames.
func (r *room) deleted(seq uint64) {
	r.mu.Lock()
	if e := r.ring.get(seq); e != nil {
		e.deleted.Store(true)
	}
	r.epoch.Add(1)
	r.notifyLocked(encode(noticeFrame{Type: TypeDeleted, Seq: seq}))
	r.mu.Unlock()
	r.poke()
}

// clear deletes the whole history in the store and in the ring, and tells every
// member. It holds appendSem so that no message is stored between the two.
func (r *room) clear(ctx context.Context) error {
	if err := r.lockAppend(ctx); err != nil {
		return err
	}
	defer r.unlockAppend()
	if err := r.hub.cfg.Store.ClearChat(ctx, r.name); err != nil {
		return fmt.Errorf("chat: room %s: clear: %w", r.name, err)
	}
	r.clearLocal()
	return nil
}

// clearLocal hides every message in the ring and tells every member; the
// store was cleared already (here, or by another node).
func (r *room) clearLocal() {
	r.mu.Lock()
	for i := range r.ring.slots {
		if e := r.ring.slots[i].Load(); e != nil {
			e.deleted.Store(true)
		}
	}
	r.epoch.Add(1)
	r.notifyLocked(encode(noticeFrame{Type: TypeCleared}))
	r.mu.Unlock()
	r.poke()
}

// members returns the members with identity.
func (r *room) withIdentity(identity string) []*Member {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*Member
	for _, m := range r.members {
		if m.who.Identity == identity {
			out = append(out, m)
		}
	}
	return out
}

// exists reports whether seq is a stored, undeleted message of the room.
func (r *room) exists(ctx context.Context, seq uint64) (bool, error) {
	if e := r.ring.get(seq); e != nil {
		return !e.deleted.Load(), nil
	}
	msgs, err := r.hub.cfg.Store.ChatHistory(ctx, r.name, seq+1, 1)
	if err != nil {
		return false, fmt.Errorf("chat: room %s: look up %d: %w", r.name, seq, err)
	}
	return len(msgs) == 1 && msgs[0].Seq == seq, nil
}
