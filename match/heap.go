package match

// The heaps here are indexed: every user records its place in each heap it sits
// in, so that removing a matched or departed user is O(log n), not a search.

// entry is a user's place in one bucket heap: slot -1 is the bucket's heap of all
// its users, slot i its heap for the user's interests[i]. It carries the user's
// seq so that sifting compares within the heap's array instead of loading a user
// per comparison (a cache miss each, with 50,000 users waiting).
type entry struct {
	seq  uint64
	u    *user
	slot int
}

// seqHeap is a min-heap of users by arrival sequence: its root is the user who
// has waited longest. It is a heap rather than a FIFO list because widening moves
// a user into a bucket holding users who arrived after it.
type seqHeap []entry

func (h seqHeap) set(i int, e entry) {
	h[i] = e
	if e.slot < 0 {
		e.u.pos = i
	} else {
		e.u.ipos[e.slot] = i
	}
}

func (h *seqHeap) push(e entry) {
	*h = append(*h, e)
	h.set(len(*h)-1, e)
	h.up(len(*h) - 1)
}

func (h *seqHeap) remove(i int) {
	s := *h
	n := len(s) - 1
	if i != n {
		s.set(i, s[n])
	}
	s[n] = entry{}
	*h = s[:n]
	if i < n && !h.down(i) {
		h.up(i)
	}
}

func (h seqHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h[p].seq < h[i].seq {
			return
		}
		e := h[i]
		h.set(i, h[p])
		h.set(p, e)
		i = p
	}
}

func (h seqHeap) down(i int) bool {
	i0 := i
	for {
		c := 2*i + 1
		if c >= len(h) {
			break
		}
		if r := c + 1; r < len(h) && h[r].seq < h[c].seq {
			c = r
		}
		if h[i].seq < h[c].seq {
			break
		}
		e := h[i]
		h.set(i, h[c])
		h.set(c, e)
		i = c
	}
	return i > i0
}

// deadlineHeap orders waiting users by their next widening deadline, ties by
// arrival, so Tick widens users in a deterministic order.
type deadlineHeap []*user

func (h deadlineHeap) less(i, j int) bool {
	a, b := h[i], h[j]
	if !a.deadline.Equal(b.deadline) {
		return a.deadline.Before(b.deadline)
	}
	return a.seq < b.seq
}

func (h deadlineHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].dpos, h[j].dpos = i, j
}

func (h *deadlineHeap) push(u *user) {
	u.dpos = len(*h)
	*h = append(*h, u)
	h.up(u.dpos)
}

func (h *deadlineHeap) remove(i int) {
	s := *h
	n := len(s) - 1
	u := s[i]
	if i != n {
		s.swap(i, n)
	}
	s[n] = nil
	*h = s[:n]
	if i < n && !h.down(i) {
		h.up(i)
	}
	u.dpos = -1
}

func (h deadlineHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h deadlineHeap) down(i int) bool {
	i0 := i
	for {
		c := 2*i + 1
		if c >= len(h) {
			break
		}
		if r := c + 1; r < len(h) && h.less(r, c) {
			c = r
		}
		if !h.less(c, i) {
			break
		}
		h.swap(i, c)
		i = c
	}
	return i > i0
}
