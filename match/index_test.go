package match

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// check verifies the index's structure: heaps ordered with positions recorded,
// node counts true, no empty node or bucket kept, every waiting user indexed once
// and every deadline in place.
func (q *Queue) check(t *testing.T) {
	t.Helper()
	seen := map[*user]bool{}
	var walk func(n *node, l int) int
	walk = func(n *node, l int) int {
		if l == levels {
			count := 0
			for part, b := range n.parts {
				if b == nil {
					continue
				}
				if len(b.all) == 0 {
					t.Fatal("empty bucket kept")
				}
				checkHeap(t, b.all)
				for i, e := range b.all {
					if e.u.pos != i || e.u.leaf != n || e.u.part != part || e.seq != e.u.seq {
						t.Fatalf("user %s misplaced", e.u.id)
					}
					seen[e.u] = true
				}
				members := 0
				for it, h := range b.byInterest {
					if len(*h) == 0 {
						t.Fatalf("empty heap for %q kept", it)
					}
					checkHeap(t, *h)
					for i, e := range *h {
						if e.u.interests[e.slot] != it || e.u.ipos[e.slot] != i {
							t.Fatalf("user %s misplaced in interest heap %q", e.u.id, it)
						}
					}
					members += len(*h)
				}
				interests := 0
				for _, e := range b.all {
					interests += len(e.u.interests)
				}
				if members != interests {
					t.Fatalf("interest heaps hold %d entries, users have %d interests", members, interests)
				}
				count += len(b.all)
			}
			return count
		}
		count := 0
		for i, c := range n.order {
			if c.parent != n || c.idx != i || n.kids[c.key] != c {
				t.Fatal("trie links broken")
			}
			below := walk(c, l+1)
			if below == 0 || below != c.n {
				t.Fatalf("node %q holds %d users, counts %d", c.key, below, c.n)
			}
			count += below
		}
		if len(n.kids) != len(n.order) {
			t.Fatal("kids and order differ")
		}
		return count
	}
	if n := walk(q.root, 0); n != len(q.users) || q.root.n != n {
		t.Fatalf("index holds %d users, queue %d", n, len(q.users))
	}
	for _, u := range q.users {
		if !seen[u] {
			t.Fatalf("user %s not indexed", u.id)
		}
		if (u.dpos >= 0) != (u.stage < len(q.widen)) {
			t.Fatalf("user %s at stage %d has dpos %d", u.id, u.stage, u.dpos)
		}
	}
	for i, u := range q.deadlines {
		if u.dpos != i || q.users[u.id] != u {
			t.Fatal("deadline heap broken")
		}
		if i > 0 && q.deadlines.less(i, (i-1)/2) {
			t.Fatal("deadline heap out of order")
		}
	}
}

func checkHeap(t *testing.T, h seqHeap) {
	t.Helper()
	for i := 1; i < len(h); i++ {
		if h[i].seq < h[(i-1)/2].seq {
			t.Fatal("heap out of order")
		}
	}
}

func TestIndexStaysConsistent(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	q, err := NewQueue(Config{
		Widen: []Widening{{After: 3 * time.Second, Drop: []string{Interests, Country}}, {After: 9 * time.Second, Drop: []string{Gender, Language}}},
		Now:   func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	pick := func(vals ...string) string { return vals[rng.IntN(len(vals))] }
	for i := range 5000 {
		id := fmt.Sprint("u", rng.IntN(300))
		switch rng.IntN(4) {
		case 0, 1:
			p := Profile{
				Attrs:     map[string]string{Gender: pick("m", "f"), Language: pick("ko", "en", "ja"), Country: pick("KR", "US")},
				Interests: []string{pick("a", "b", "c"), pick("a", "b", "c", "d")},
				Want: Preferences{
					Attrs:          map[string][]string{Gender: {pick("m", "f")}, Language: {pick("ko", "en"), pick("ja", "en")}},
					CommonInterest: rng.IntN(2) == 0,
				},
			}
			q.Enqueue(id, p)
		case 2:
			q.Remove(id)
		default:
			now = now.Add(time.Duration(rng.IntN(2000)) * time.Millisecond)
			q.Tick()
		}
		if i%10 == 0 {
			q.check(t)
		}
	}
	for id := range q.users {
		q.Remove(id)
	}
	q.check(t)
	if len(q.root.kids) != 0 || len(q.deadlines) != 0 {
		t.Fatal("an empty queue keeps index nodes or deadlines")
	}
}
