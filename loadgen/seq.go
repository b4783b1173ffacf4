package loadgen

// reorderWindow is how far (in packets) behind the highest sequence number
// a packet may arrive and still fill its gap. Older packets are counted as
// late and ignored: by then a player would have given up on them too. It
// must be a power of two so the bitmap index is a mask.
const reorderWindow = 1024

// seqTracker extends 16-bit RTP sequence numbers (RFC 3550 appendix A.1
// style) and recognises duplicates and reordered packets, so loss is counted
// from what really went missing rather than from arrival order.
type seqTracker struct {
	started bool
	highest int64                      // extended sequence number of the newest packet
	seen    [reorderWindow / 64]uint64 // bit per extended seq modulo reorderWindow
	dups    uint64
	late    uint64
}

// push records one arrival. It returns the packet's extended sequence number
// and whether the packet is new; duplicates and packets older than the
// reorder window are not.
func (t *seqTracker) push(seq uint16) (ext int64, fresh bool) {
	if !t.started {
		t.started = true
		t.highest = int64(seq)
		t.mark(t.highest)
		return t.highest, true
	}
	// The signed 16-bit difference places seq within ±32767 of the newest
	// packet, which is how wraparound is told from reordering.
	delta := int64(int16(seq - uint16(t.highest)))
	ext = t.highest + delta
	if delta > 0 {
		if delta >= reorderWindow {
			t.seen = [reorderWindow / 64]uint64{}
		} else {
			for e := t.highest + 1; e < ext; e++ {
				t.clear(e)
			}
		}
		t.highest = ext
		t.mark(ext)
		return ext, true
	}
	if t.highest-ext >= reorderWindow {
		t.late++
		return ext, false
	}
	if t.isMarked(ext) {
		t.dups++
		return ext, false
	}
	t.mark(ext)
	return ext, true
}

func bit(ext int64) (word int, mask uint64) {
	i := uint64(ext) & (reorderWindow - 1)
	return int(i / 64), 1 << (i % 64)
}

func (t *seqTracker) mark(ext int64) {
	w, m := bit(ext)
	t.seen[w] |= m
}

func (t *seqTracker) clear(ext int64) {
	w, m := bit(ext)
	t.seen[w] &^= m
}

func (t *seqTracker) isMarked(ext int64) bool {
	w, m := bit(ext)
	return t.seen[w]&m != 0
}

// span counts the distinct packets of one stream received in some period
// and the range of extended sequence numbers they cover: the packets the
// sender must have sent in between are the expected ones.
type span struct {
	any      bool
	lo, hi   int64
	received uint64
}

func (s *span) add(ext int64) {
	if !s.any {
		s.any, s.lo, s.hi = true, ext, ext
	} else {
		s.lo, s.hi = min(s.lo, ext), max(s.hi, ext)
	}
	s.received++
}

// expected is the number of sequence numbers from the lowest to the highest
// seen.
func (s span) expected() uint64 {
	if !s.any {
		return 0
	}
	return uint64(s.hi - s.lo + 1)
}

// lost is expected minus received, never negative.
func (s span) lost() uint64 {
	if e := s.expected(); e > s.received {
		return e - s.received
	}
	return 0
}
