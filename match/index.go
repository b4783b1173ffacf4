package match

import (
	"math"
	"slices"
)

// levels is the depth of the index trie. Level 2d branches on a user's own value
// for keys[d] ("" if undeclared); level 2d+1 on its effective preference for
// keys[d] (its signature, "" if any value is accepted). A root-to-leaf path spells
// a bucket signature: users under one leaf are interchangeable as far as
// attributes go, in both directions.
const levels = 2 * numKeys

// node is one node of the index trie.
type node struct {
	parent *node
	key    string
	idx    int      // place in parent.order
	set    []string // at preference levels: the accepted values, nil for any
	kids   map[string]*node
	order  []*node // kids, for iteration without map overhead
	n      int     // users below this node
	// parts are a leaf's buckets: members that do not (0) and do (1) require a
	// common interest at their current stage.
	parts [2]*bucket
}

// bucket holds the users of one signature, oldest first, once in all and once
// per interest in byInterest, so a search that requires a shared interest finds
// the oldest sharer without scanning.
type bucket struct {
	all        seqHeap
	byInterest map[string]*seqHeap
}

// index places u in the bucket of its signature at its current stage.
func (q *Queue) index(u *user) {
	keep := q.keep[u.stage]
	n := q.root
	n.n++
	for l := 0; l < levels; l++ {
		d := l / 2
		var key string
		var accept []string
		if l%2 == 0 {
			key = u.self[d]
		} else if keep&(1<<d) != 0 {
			key, accept = u.wantSig[d], u.want[d]
		}
		c := n.kids[key]
		if c == nil {
			if n.kids == nil {
				n.kids = map[string]*node{}
			}
			c = &node{parent: n, key: key, idx: len(n.order), set: accept}
			n.kids[key] = c
			n.order = append(n.order, c)
		}
		c.n++
		n = c
	}
	part := 0
	if u.needsInterest(keep) {
		part = 1
	}
	b := n.parts[part]
	if b == nil {
		b = &bucket{}
		n.parts[part] = b
	}
	b.all.push(entry{u.seq, u, -1})
	for i, it := range u.interests {
		h := b.byInterest[it]
		if h == nil {
			if b.byInterest == nil {
				b.byInterest = map[string]*seqHeap{}
			}
			h = &seqHeap{}
			b.byInterest[it] = h
		}
		h.push(entry{u.seq, u, i})
	}
	u.leaf, u.part = n, part
}

// unindex takes u out of its bucket and prunes the nodes left empty, so searches
// never walk empty branches.
func (q *Queue) unindex(u *user) {
	b := u.leaf.parts[u.part]
	b.all.remove(u.pos)
	for i, it := range u.interests {
		h := b.byInterest[it]
		h.remove(u.ipos[i])
		if len(*h) == 0 {
			delete(b.byInterest, it)
		}
	}
	if len(b.all) == 0 {
		u.leaf.parts[u.part] = nil
	}
	for n := u.leaf; n != nil; n = n.parent {
		n.n--
		if n.n == 0 && n.parent != nil {
			p := n.parent
			delete(p.kids, n.key)
			last := p.order[len(p.order)-1]
			p.order[n.idx], last.idx = last, n.idx
			p.order[len(p.order)-1] = nil
			p.order = p.order[:len(p.order)-1]
		}
	}
	u.leaf = nil
}

// finder searches the index for the longest-waiting user compatible with u, at
// their current stages. u must not be in the index.
type finder struct {
	q            *Queue
	u            *user
	want         [numKeys][]string // u's effective preferences; nil for any
	needInterest bool
	best         *user
	frontier     []int // scratch for first
}

func (q *Queue) find(u *user) *user {
	keep := q.keep[u.stage]
	f := finder{q: q, u: u, needInterest: u.needsInterest(keep), frontier: q.scratch}
	for d := range numKeys {
		if keep&(1<<d) != 0 {
			f.want[d] = u.want[d]
		}
	}
	f.walk(q.root, 0)
	q.scratch = f.frontier
	return f.best
}

// walk visits the subtrees whose signature prefix is compatible with u: at an own
// value level only the values u accepts, at a preference level only the
// preferences that accept u's value.
func (f *finder) walk(n *node, l int) {
	if l == levels {
		f.leaf(n)
		return
	}
	d := l / 2
	switch {
	case l%2 == 1:
		v := f.u.self[d]
		for _, c := range n.order {
			if c.set == nil || (v != "" && contains(c.set, v)) {
				f.walk(c, l+1)
			}
		}
	case f.want[d] == nil:
		for _, c := range n.order {
			f.walk(c, l+1)
		}
	default:
		for _, v := range f.want[d] {
			if c := n.kids[v]; c != nil {
				f.walk(c, l+1)
			}
		}
	}
}

// leaf considers a leaf's buckets: through the interest heaps if either side
// requires a shared interest, else through the bucket's heap of all users.
func (f *finder) leaf(n *node) {
	for part, b := range n.parts {
		if b == nil {
			continue
		}
		if part == 0 && !f.needInterest {
			f.first(b.all)
			continue
		}
		for _, it := range f.u.interests {
			if h := b.byInterest[it]; h != nil {
				f.first(*h)
			}
		}
	}
}

// first makes the oldest user in h that is older than the best so far and not
// kept apart from u (blocked, or skipped) the new best. It walks the heap in
// arrival order from the root, so it costs one check when the oldest qualifies
// and O(k²) for k users passed over, which only blocks and skips cause.
func (f *finder) first(h seqHeap) {
	bound := uint64(math.MaxUint64)
	if f.best != nil {
		bound = f.best.seq
	}
	if len(h) == 0 || h[0].seq >= bound {
		return
	}
	if f.ok(h[0].u) {
		f.best = h[0].u
		return
	}
	fr := f.frontier[:0]
	fr = children(fr, 0, len(h))
	for len(fr) > 0 {
		m := 0
		for j := range fr {
			if h[fr[j]].seq < h[fr[m]].seq {
				m = j
			}
		}
		i := fr[m]
		if h[i].seq >= bound {
			break
		}
		if f.ok(h[i].u) {
			f.best = h[i].u
			break
		}
		fr[m] = fr[len(fr)-1]
		fr = children(fr[:len(fr)-1], i, len(h))
	}
	f.frontier = fr
}

func children(fr []int, i, n int) []int {
	for c := 2*i + 1; c <= 2*i+2 && c < n; c++ {
		fr = append(fr, c)
	}
	return fr
}

// ok reports whether nothing but preferences stands between u and c: the
// preferences are settled by the bucket c is in.
func (f *finder) ok(c *user) bool {
	return c.id != f.u.skip && c.skip != f.u.id && !f.q.blocks.Has(f.u.id, c.id)
}

// contains reports whether the sorted set s holds v. Sets hold at most
// MaxWantValues values, so a linear scan beats a binary search.
func contains(s []string, v string) bool {
	return slices.Contains(s, v)
}
