package chat

import "sync/atomic"

// entry is one stored message as a room's ring holds it. js is the message encoded
// once, shared by every frame that carries it; only deleted ever changes.
type entry struct {
	seq     uint64
	js      []byte
	deleted atomic.Bool
}

// ring holds a room's newest stored messages by Seq, so that fan-out, join
// backfill and unhide read memory, not the store. Slots are atomic so the flusher
// reads them without the room lock while commits go on; a slot whose entry has a
// different Seq has been overwritten, and reads as absent.
type ring struct {
	slots []atomic.Pointer[entry]
}

func newRing(size int) *ring {
	return &ring{slots: make([]atomic.Pointer[entry], size)}
}

func (r *ring) size() uint64 { return uint64(len(r.slots)) }

func (r *ring) put(e *entry) { r.slots[e.seq%r.size()].Store(e) }

// get returns the entry with Seq seq, or nil if the ring does not hold it (never
// stored here, overwritten by a newer one, or a hole in the Seq numbering).
func (r *ring) get(seq uint64) *entry {
	if seq == 0 {
		return nil
	}
	e := r.slots[seq%r.size()].Load()
	if e == nil || e.seq != seq {
		return nil
	}
	return e
}

// live appends to dst the entries with Seq in [from, to] that are neither deleted
// nor absent, in ascending order.
func (r *ring) live(dst []*entry, from, to uint64) []*entry {
	for seq := from; seq <= to && seq != 0; seq++ {
		if e := r.get(seq); e != nil && !e.deleted.Load() {
			dst = append(dst, e)
		}
	}
	return dst
}

// newest appends to dst the newest n live entries with Seq ≤ head, ascending.
func (r *ring) newest(dst []*entry, head uint64, n int) []*entry {
	start := len(dst)
	low := uint64(1)
	if head > r.size() {
		low = head - r.size() + 1
	}
	for seq := head; seq >= low && seq != 0 && len(dst)-start < n; seq-- {
		if e := r.get(seq); e != nil && !e.deleted.Load() {
			dst = append(dst, e)
		}
	}
	for i, j := start, len(dst)-1; i < j; i, j = i+1, j-1 {
		dst[i], dst[j] = dst[j], dst[i]
	}
	return dst
}

// frame is one data channel message of a member's stream: a messages frame and the
// Seq of the last message in it (a member that has sent it has its cursor there).
type frame struct {
	b    []byte
	last uint64
}

// buildFrames encodes entries as messages frames of at most maxBytes each (a single
// message over the cap gets a frame of its own). Each frame is allocated once, at
// its final size.
func buildFrames(dst []frame, prefix []byte, entries []*entry, maxBytes int) []frame {
	overhead := len(prefix) + len(messagesSuffix)
	for len(entries) > 0 {
		n, size := 0, overhead
		for n < len(entries) {
			add := len(entries[n].js)
			if n > 0 {
				add++ // comma
			}
			if n > 0 && size+add > maxBytes {
				break
			}
			size += add
			n++
		}
		b := make([]byte, 0, size)
		b = append(b, prefix...)
		for i, e := range entries[:n] {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, e.js...)
		}
		b = append(b, messagesSuffix...)
		dst = append(dst, frame{b: b, last: entries[n-1].seq})
		entries = entries[n:]
	}
	return dst
}
