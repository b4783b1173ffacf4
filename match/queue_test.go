package match_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/match"
)

// clock is an injected clock the tests move by hand.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) Advance(d time.Duration) { c.t = c.t.Add(d) }

func newClock() *clock { return &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)} }

// ladder is the widening used by the tests: interests go after 10 s, every
// attribute preference after 30 s.
var ladder = []match.Widening{
	{After: 10 * time.Second, Drop: []string{match.Interests}},
	{After: 30 * time.Second, Drop: []string{match.Gender, match.Language, match.Country}},
}

func newQueue(t *testing.T, c *clock, blocks match.Blocks) *match.Queue {
	t.Helper()
	q, err := match.NewQueue(match.Config{Widen: ladder, Now: c.Now, Blocks: blocks})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// enqueue enqueues and checks the outcome: want is the expected partner, "" for
// none.
func enqueue(t *testing.T, q *match.Queue, user string, p match.Profile, want string) {
	t.Helper()
	partner, matched, err := q.Enqueue(user, p)
	if err != nil {
		t.Fatalf("Enqueue(%s): %v", user, err)
	}
	if matched != (want != "") || partner != want {
		t.Fatalf("Enqueue(%s) = %q, %v; want %q", user, partner, matched, want)
	}
}

// person builds a profile: gender, language, then preferences as "key=v1|v2"
// strings, "interest:x" for an interest and "common" for CommonInterest.
func person(gender, lang string, opts ...string) match.Profile {
	p := match.Profile{Attrs: map[string]string{match.Gender: gender, match.Language: lang}}
	for _, o := range opts {
		switch {
		case o == "common":
			p.Want.CommonInterest = true
		case strings.HasPrefix(o, "interest:"):
			p.Interests = append(p.Interests, strings.TrimPrefix(o, "interest:"))
		case strings.HasPrefix(o, "skip:"):
			p.Skip = strings.TrimPrefix(o, "skip:")
		default:
			k, v, _ := strings.Cut(o, "=")
			if p.Want.Attrs == nil {
				p.Want.Attrs = map[string][]string{}
			}
			p.Want.Attrs[k] = strings.Split(v, "|")
		}
	}
	return p
}

func TestPairsFirstTwo(t *testing.T) {
	q := newQueue(t, newClock(), nil)
	enqueue(t, q, "a", match.Profile{}, "")
	enqueue(t, q, "b", match.Profile{}, "a")
	enqueue(t, q, "c", match.Profile{}, "")
	if n := q.Len(); n != 1 {
		t.Fatalf("Len = %d, want 1", n)
	}
}

func TestPreferencesHoldBothWays(t *testing.T) {
	q := newQueue(t, newClock(), nil)
	enqueue(t, q, "m1", person("m", "ko", "gender=f"), "")
	// f1 suits m1, but m1 does not suit f1.
	enqueue(t, q, "f1", person("f", "ko", "language=en"), "")
	// m2 wants a Korean speaker: f1 is one, but f1 wants English.
	// m2 wants a Korean speaker: f1 is one, but f1 wants English.
	enqueue(t, q, "m2", person("m", "ja", "language=ko"), "")
	// f2 suits m1 and accepts him.
	enqueue(t, q, "f2", person("f", "ko", "gender=m", "language=ko|en"), "m1")
	// f3 speaks English: f1 accepts her, and m2 does not.
	enqueue(t, q, "f3", person("f", "en"), "f1")
	if n := q.Len(); n != 1 {
		t.Fatalf("Len = %d, want 1 (m2)", n)
	}
}

func TestUndeclaredAttributeFailsAPreference(t *testing.T) {
	q := newQueue(t, newClock(), nil)
	enqueue(t, q, "x", match.Profile{}, "")
	enqueue(t, q, "y", person("f", "ko", "gender=m|f|x"), "")
	enqueue(t, q, "z", person("x", "ko"), "x")
}

func TestCommonInterest(t *testing.T) {
	q := newQueue(t, newClock(), nil)
	enqueue(t, q, "a", person("m", "ko", "interest:music", "interest:films", "common"), "")
	enqueue(t, q, "b", person("f", "ko", "interest:cats"), "")                           // shares nothing with a
	enqueue(t, q, "c", person("f", "ko"), "b")                                           // no interests: a refuses c, b takes her
	enqueue(t, q, "d", person("m", "ko", "interest:games", "interest:films"), "a")       // shares films
	enqueue(t, q, "e", person("m", "ko", "interest:films", "common"), "")                // alone again
	enqueue(t, q, "f", person("f", "ko", "interest:films", "interest:x", "common"), "e") // both require, both share
}

func TestWideningAfterTheWait(t *testing.T) {
	c := newClock()
	q := newQueue(t, c, nil)
	enqueue(t, q, "a", person("m", "ko", "gender=f", "language=ko", "interest:music", "common"), "")
	enqueue(t, q, "b", person("f", "ko", "interest:films"), "") // a needs a shared interest
	enqueue(t, q, "m", person("m", "en"), "b")                  // b accepts anyone
	enqueue(t, q, "c", person("f", "ko", "interest:films"), "")
	if d, ok := q.NextDeadline(); !ok || !d.Equal(c.t.Add(10*time.Second)) {
		t.Fatalf("NextDeadline = %v, %v; want a's, in 10 s", d, ok)
	}
	c.Advance(9 * time.Second)
	if p := q.Tick(); len(p) != 0 {
		t.Fatalf("Tick before the wait = %v", p)
	}
	c.Advance(time.Second)
	if p := q.Tick(); len(p) != 1 || p[0] != (match.Pair{A: "a", B: "c"}) {
		t.Fatalf("Tick after 10 s = %v; want a with c (interests dropped)", p)
	}

	// Attribute preferences go at 30 s, not before.
	enqueue(t, q, "d", person("m", "ko", "gender=f"), "")
	enqueue(t, q, "e", person("m", "en"), "")
	c.Advance(29 * time.Second)
	if p := q.Tick(); len(p) != 0 {
		t.Fatalf("Tick at 29 s = %v", p)
	}
	c.Advance(time.Second)
	if p := q.Tick(); len(p) != 1 || p[0] != (match.Pair{A: "d", B: "e"}) {
		t.Fatalf("Tick at 30 s = %v; want d with e", p)
	}
	if _, ok := q.NextDeadline(); ok || q.Len() != 0 {
		t.Fatalf("queue not empty: Len %d", q.Len())
	}
}

// A user at stage 0 is still bound by its own preferences towards a widened one.
func TestWideningIsOneSided(t *testing.T) {
	c := newClock()
	q := newQueue(t, c, nil)
	enqueue(t, q, "old", person("m", "ko", "gender=f"), "")
	c.Advance(30 * time.Second)
	q.Tick()
	enqueue(t, q, "picky", person("m", "ko", "gender=f"), "") // old now accepts men; picky does not
	enqueue(t, q, "easy", person("m", "en"), "old")
}

func TestNextRequeuesAtTheBack(t *testing.T) {
	c := newClock()
	q := newQueue(t, c, nil)
	enqueue(t, q, "a", match.Profile{}, "")
	enqueue(t, q, "b", match.Profile{}, "a")
	// b presses next: the service enqueues a (who was left) then b, each skipping
	// the other, so the two are not matched straight back.
	enqueue(t, q, "a", person("m", "ko", "skip:b"), "")
	enqueue(t, q, "b", person("f", "ko", "skip:a"), "")
	// Skip holds after widening too.
	c.Advance(time.Minute)
	if p := q.Tick(); len(p) != 0 {
		t.Fatalf("Tick = %v; the skipped pair was rematched", p)
	}
	// A newcomer takes the one who has waited longest: a.
	enqueue(t, q, "c", match.Profile{}, "a")
	enqueue(t, q, "d", match.Profile{}, "b")

	// Next while the other is waiting: Remove then Enqueue puts the user behind.
	enqueue(t, q, "e", person("m", "ko", "gender=f"), "")
	enqueue(t, q, "f", person("m", "ko", "gender=f"), "")
	if !q.Remove("e") {
		t.Fatal("Remove(e) = false")
	}
	enqueue(t, q, "e", person("m", "ko", "gender=f"), "")
	enqueue(t, q, "g", person("f", "ko"), "f")
}

func TestBlockedPairNeverMatched(t *testing.T) {
	c := newClock()
	blocks := match.NewMemBlocks()
	q := newQueue(t, c, blocks)
	if err := q.Block("a", "b"); err != nil {
		t.Fatal(err)
	}
	if !blocks.Has("b", "a") {
		t.Fatal("block is not symmetric")
	}
	enqueue(t, q, "a", match.Profile{}, "")
	enqueue(t, q, "b", match.Profile{}, "")
	c.Advance(time.Hour)
	if p := q.Tick(); len(p) != 0 {
		t.Fatalf("Tick = %v", p)
	}
	// b2 and c suit each other at every stage, but b2 blocked c.
	if err := q.Block("b2", "c"); err != nil {
		t.Fatal(err)
	}
	enqueue(t, q, "b2", person("m", "ko", "gender=f"), "")
	enqueue(t, q, "c", person("f", "ko", "gender=m"), "")
	c.Advance(time.Hour)
	want := []match.Pair{{A: "b2", B: "a"}, {A: "c", B: "b"}}
	if p := q.Tick(); fmt.Sprint(p) != fmt.Sprint(want) {
		t.Fatalf("Tick = %v; want %v", p, want)
	}
}

func TestBlockedHeadDoesNotHideOthers(t *testing.T) {
	q := newQueue(t, newClock(), nil)
	for i := range 5 {
		enqueue(t, q, fmt.Sprint("w", i), person("m", "ko", "gender=f"), "")
	}
	for _, w := range []string{"w0", "w1", "w3"} {
		if err := q.Block("f", w); err != nil {
			t.Fatal(err)
		}
	}
	enqueue(t, q, "f", person("f", "ko"), "w2")
	enqueue(t, q, "g", person("f", "ko"), "w0")
}

func TestRemovedUserNeverMatched(t *testing.T) {
	c := newClock()
	q := newQueue(t, c, nil)
	enqueue(t, q, "a", person("m", "ko", "gender=f"), "")
	enqueue(t, q, "b", person("m", "ko", "gender=f"), "")
	if !q.Remove("a") {
		t.Fatal("Remove(a) = false")
	}
	if q.Remove("a") {
		t.Fatal("Remove(a) twice = true")
	}
	if q.Remove("nobody") {
		t.Fatal("Remove(nobody) = true")
	}
	enqueue(t, q, "f", person("f", "ko"), "b")
	enqueue(t, q, "x", person("m", "en"), "")
	c.Advance(time.Hour)
	if p := q.Tick(); len(p) != 0 {
		t.Fatalf("Tick = %v", p)
	}
	if q.Len() != 1 {
		t.Fatalf("Len = %d, want 1", q.Len())
	}
}

func TestLongestWaitingCompatibleFirst(t *testing.T) {
	c := newClock()
	q := newQueue(t, c, nil)
	// Men who want women, in four buckets, arriving in this order.
	enqueue(t, q, "m-ko", person("m", "ko", "gender=f"), "")
	enqueue(t, q, "m-en", person("m", "en", "gender=f"), "")
	enqueue(t, q, "m-music", person("m", "ko", "gender=f", "interest:music", "common"), "")
	enqueue(t, q, "m-ja", person("m", "ja", "gender=f", "language=ja"), "")
	enqueue(t, q, "f1", person("f", "en", "language=ko|en"), "m-ko")
	enqueue(t, q, "f2", person("f", "ja"), "m-en") // m-ja fits too, but arrived later
	enqueue(t, q, "f3", person("f", "ko", "interest:music"), "m-music")
	enqueue(t, q, "f4", person("f", "ko"), "") // m-ja wants Japanese
	enqueue(t, q, "f5", person("f", "ja"), "m-ja")
}

// When widening makes several partners possible, the longest-waiting one wins.
func TestWideningTakesLongestWaiting(t *testing.T) {
	c := newClock()
	q := newQueue(t, c, nil)
	enqueue(t, q, "w", person("m", "ko", "gender=f"), "")
	c.Advance(time.Second)
	enqueue(t, q, "a1", person("m", "en", "language=ko"), "") // accepts w; w refuses men
	c.Advance(time.Second)
	enqueue(t, q, "a2", person("m", "ja", "language=ko"), "")
	c.Advance(28 * time.Second)
	if p := q.Tick(); len(p) != 1 || p[0] != (match.Pair{A: "w", B: "a1"}) {
		t.Fatalf("Tick = %v; want w with a1", p)
	}
	c.Advance(2 * time.Second)
	if p := q.Tick(); len(p) != 0 {
		t.Fatalf("Tick = %v; a2 has nobody left", p)
	}
}

// Users widened in one Tick are taken in order of deadline, and a user matched
// earlier in the Tick is not widened afterwards.
func TestTickOrder(t *testing.T) {
	c := newClock()
	q := newQueue(t, c, nil)
	enqueue(t, q, "a", person("m", "ko", "gender=f"), "")
	c.Advance(time.Second)
	enqueue(t, q, "b", person("m", "en", "gender=f"), "")
	c.Advance(time.Second)
	enqueue(t, q, "c", person("f", "ja", "gender=f"), "")
	c.Advance(time.Hour)
	// a's last step is due first, but b (still wanting women) refuses a; b's
	// last step then makes the pair.
	want := []match.Pair{{A: "b", B: "a"}}
	if p := q.Tick(); fmt.Sprint(p) != fmt.Sprint(want) {
		t.Fatalf("Tick = %v; want %v", p, want)
	}
	if q.Len() != 1 {
		t.Fatalf("Len = %d, want 1 (c)", q.Len())
	}
}

func TestMaxWaiting(t *testing.T) {
	q, err := match.NewQueue(match.Config{MaxWaiting: 1})
	if err != nil {
		t.Fatal(err)
	}
	enqueue(t, q, "a", person("m", "ko", "gender=f"), "")
	if _, _, err := q.Enqueue("b", person("m", "ko", "gender=f")); !errors.Is(err, match.ErrFull) {
		t.Fatalf("err = %v, want ErrFull", err)
	}
}

// TestConcurrentUse runs enqueues, removals and ticks from several goroutines and
// checks that nobody is matched twice or while not waiting.
func TestConcurrentUse(t *testing.T) {
	q, err := match.NewQueue(match.Config{Widen: []match.Widening{{After: time.Millisecond, Drop: []string{match.Gender}}}})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	matched := map[string]int{}
	removed := map[string]bool{}
	note := func(users ...string) {
		mu.Lock()
		for _, u := range users {
			matched[u]++
		}
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				id := fmt.Sprintf("g%d-%d", g, i)
				gender := []string{"m", "f"}[i%2]
				p, ok, err := q.Enqueue(id, person(gender, "ko", "gender=f"))
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					note(id, p)
				} else if i%7 == 0 && q.Remove(id) {
					mu.Lock()
					removed[id] = true
					mu.Unlock()
				}
			}
		})
	}
	wg.Go(func() {
		for range 200 {
			for _, p := range q.Tick() {
				note(p.A, p.B)
			}
			time.Sleep(50 * time.Microsecond)
		}
	})
	wg.Wait()
	for u, n := range matched {
		if n != 1 || removed[u] {
			t.Errorf("%s matched %d times, removed %v", u, n, removed[u])
		}
	}
	if len(removed) == 0 || len(matched) == 0 {
		t.Fatalf("%d removed, %d matched: the test exercised nothing", len(removed), len(matched))
	}
}
