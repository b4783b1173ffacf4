package match_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/match"
)

// refQueue is the brute-force reference: the rules of the package doc applied by
// scanning every waiting user in arrival order. It shares no code with Queue.
type refQueue struct {
	widen   []match.Widening
	now     func() time.Time
	blocks  match.Blocks
	waiting []*refUser // in arrival order
	seq     int
}

type refUser struct {
	id    string
	p     match.Profile
	seq   int
	at    time.Time
	stage int
}

// dropped reports whether preference name no longer applies at stage.
func (r *refQueue) dropped(stage int, name string) bool {
	for _, w := range r.widen[:stage] {
		if slices.Contains(w.Drop, name) {
			return true
		}
	}
	return false
}

func (r *refQueue) accepts(a, b *refUser) bool {
	for k, vals := range a.p.Want.Attrs {
		if len(vals) == 0 || r.dropped(a.stage, k) {
			continue
		}
		v, ok := b.p.Attrs[k]
		if !ok || !slices.Contains(vals, v) {
			return false
		}
	}
	if a.p.Want.CommonInterest && !r.dropped(a.stage, match.Interests) {
		for _, it := range a.p.Interests {
			if slices.Contains(b.p.Interests, it) {
				return true
			}
		}
		return false
	}
	return true
}

func (r *refQueue) compatible(a, b *refUser) bool {
	return a.id != b.id && a.p.Skip != b.id && b.p.Skip != a.id &&
		!r.blocks.Has(a.id, b.id) && r.accepts(a, b) && r.accepts(b, a)
}

// partner returns the first waiting user (oldest) compatible with u.
func (r *refQueue) partner(u *refUser) int {
	for i, w := range r.waiting {
		if r.compatible(u, w) {
			return i
		}
	}
	return -1
}

func (r *refQueue) enqueue(id string, p match.Profile) (string, bool) {
	for _, w := range r.waiting {
		if w.id == id {
			return "", false // refused as queued; the caller compares errors
		}
	}
	r.seq++
	u := &refUser{id: id, p: p, seq: r.seq, at: r.now()}
	if i := r.partner(u); i >= 0 {
		w := r.waiting[i]
		r.waiting = slices.Delete(r.waiting, i, i+1)
		return w.id, true
	}
	r.waiting = append(r.waiting, u)
	return "", false
}

func (r *refQueue) remove(id string) bool {
	for i, w := range r.waiting {
		if w.id == id {
			r.waiting = slices.Delete(r.waiting, i, i+1)
			return true
		}
	}
	return false
}

// tick widens, one step at a time, the user whose next step is due earliest
// (ties by arrival), and searches for its partner every time.
func (r *refQueue) tick() []match.Pair {
	var pairs []match.Pair
	now := r.now()
	for {
		var u *refUser
		var due time.Time
		for _, w := range r.waiting {
			if w.stage == len(r.widen) {
				continue
			}
			d := w.at.Add(r.widen[w.stage].After)
			if d.After(now) {
				continue
			}
			if u == nil || d.Before(due) || (d.Equal(due) && w.seq < u.seq) {
				u, due = w, d
			}
		}
		if u == nil {
			return pairs
		}
		u.stage++
		if i := r.partner(u); i >= 0 {
			w := r.waiting[i]
			r.remove(w.id)
			r.remove(u.id)
			pairs = append(pairs, match.Pair{A: u.id, B: w.id})
		}
	}
}

// randomProfile draws from small domains so that pairs, refusals, shared
// interests, skips and blocks all happen often.
// In crowd mode most users are men who want women: they never suit each other,
// so they pile up in a few large buckets whose heads the women's blocks hide.
func randomProfile(rng *rand.Rand, users int, crowd bool) match.Profile {
	if crowd {
		p := match.Profile{Attrs: map[string]string{match.Gender: "m", match.Language: []string{"ko", "en", "ja"}[rng.IntN(3)]}}
		if rng.IntN(5) == 0 {
			p.Attrs[match.Gender] = "f"
		} else {
			p.Want.Attrs = map[string][]string{match.Gender: {"f"}}
		}
		if rng.IntN(2) == 0 {
			p.Interests = []string{"music"}
		}
		return p
	}
	pick := func(vals ...string) string { return vals[rng.IntN(len(vals))] }
	subset := func(vals ...string) []string {
		var s []string
		for _, v := range vals {
			if rng.IntN(2) == 0 {
				s = append(s, v)
			}
		}
		return s
	}
	p := match.Profile{Attrs: map[string]string{}}
	for _, kd := range []struct {
		k   string
		dom []string
	}{
		{match.Gender, []string{"m", "f", "x", ""}},
		{match.Language, []string{"ko", "en", "ja", ""}},
		{match.Country, []string{"KR", "US", ""}},
	} {
		k, dom := kd.k, kd.dom
		if v := pick(dom...); v != "" {
			p.Attrs[k] = v
		}
		if rng.IntN(3) == 0 {
			if p.Want.Attrs == nil {
				p.Want.Attrs = map[string][]string{}
			}
			p.Want.Attrs[k] = subset(dom[:len(dom)-1]...) // may be empty: any
		}
	}
	p.Interests = subset("music", "films", "games", "cats")
	p.Want.CommonInterest = len(p.Interests) > 0 && rng.IntN(3) == 0
	if rng.IntN(5) == 0 {
		p.Skip = fmt.Sprint("u", rng.IntN(users))
	}
	return p
}

// TestMatchesReference runs random operations on a Queue and the brute-force
// reference with the same clock and checks every outcome is the same.
func TestMatchesReference(t *testing.T) {
	seeds := 400
	if testing.Short() {
		seeds = 50
	}
	widens := [][]match.Widening{
		nil,
		ladder,
		{
			{After: 5 * time.Second, Drop: []string{match.Country}},
			{After: 10 * time.Second, Drop: []string{match.Interests, match.Language}},
			{After: 20 * time.Second, Drop: []string{match.Gender}},
		},
	}
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(uint64(seed), 7))
		c := newClock()
		widen := widens[seed%len(widens)]
		blocks := match.NewMemBlocks()
		q, err := match.NewQueue(match.Config{Widen: widen, Now: c.Now, Blocks: blocks})
		if err != nil {
			t.Fatal(err)
		}
		ref := &refQueue{widen: widen, now: c.Now, blocks: blocks}
		users := 4 + rng.IntN(30)
		crowd := seed%4 == 3
		if crowd {
			users = 60
		}
		var log []string
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("seed %d after\n%s\n%s", seed, fmt.Sprint(log), fmt.Sprintf(format, args...))
		}
		for range 300 {
			id := fmt.Sprint("u", rng.IntN(users))
			op := rng.IntN(10)
			if crowd && op >= 7 && rng.IntN(3) > 0 {
				op = 6 // many blocks, few ticks: the men must not widen too soon
			}
			switch {
			case op < 5:
				p := randomProfile(rng, users, crowd)
				got, gotOK, err := q.Enqueue(id, p)
				want, wantOK := ref.enqueue(id, p)
				queued := err != nil
				if queued && !slices.ContainsFunc(ref.waiting, func(w *refUser) bool { return w.id == id }) {
					fail("Enqueue(%s): %v", id, err)
				}
				log = append(log, fmt.Sprintf("enq %s %+v -> %s\n", id, p, got))
				if !queued && (got != want || gotOK != wantOK) {
					fail("Enqueue(%s) = %q, %v; reference %q, %v", id, got, gotOK, want, wantOK)
				}
			case op < 6:
				log = append(log, fmt.Sprintf("remove %s\n", id))
				if got, want := q.Remove(id), ref.remove(id); got != want {
					fail("Remove(%s) = %v; reference %v", id, got, want)
				}
			case op < 7:
				other := fmt.Sprint("u", rng.IntN(users))
				log = append(log, fmt.Sprintf("block %s %s\n", id, other))
				if err := q.Block(id, other); err != nil {
					t.Fatal(err)
				}
			default:
				c.Advance(time.Duration(rng.IntN(8000)) * time.Millisecond)
				got, want := q.Tick(), ref.tick()
				log = append(log, fmt.Sprintf("tick -> %v\n", got))
				if fmt.Sprint(got) != fmt.Sprint(want) {
					fail("Tick = %v; reference %v", got, want)
				}
			}
			if q.Len() != len(ref.waiting) {
				fail("Len = %d; reference %d", q.Len(), len(ref.waiting))
			}
		}
	}
}
