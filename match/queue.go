package match

import (
	"fmt"
	"sync"
	"time"
)

// Pair is two users matched by Tick: A is the user whose widening made the match,
// B the longest-waiting user compatible with it.
type Pair struct {
	A, B string
}

// Queue pairs waiting users into 1:1 matches. It is safe for concurrent use; one
// mutex guards it, and every operation holds it for the index work only.
//
// Invariant: no two waiting users are compatible at their current stages. Every
// operation that could create a compatible pair (a user arriving, a user's
// preferences widening) immediately searches for that user's partner, so the
// only search ever needed is for the user that changed.
type Queue struct {
	keep   []uint8 // keep[s]: the preferences that still apply at stage s
	widen  []Widening
	now    func() time.Time
	blocks Blocks
	max    int

	mu        sync.Mutex
	users     map[string]*user
	root      *node
	deadlines deadlineHeap
	seq       uint64
	scratch   []int
}

// user is one waiting user, in the queue's form.
type user struct {
	id           string
	skip         string
	self         [numKeys]string   // "" for undeclared
	want         [numKeys][]string // sorted sets; nil for any
	wantSig      [numKeys]string   // want joined by U+001F; "" for any
	interests    []string          // sorted set
	wantInterest bool

	seq      uint64 // arrival order: lower waited longer
	at       time.Time
	stage    int
	deadline time.Time // of the next widening step, if dpos >= 0

	leaf *node
	part int   // the leaf's bucket: 1 if the user requires a common interest
	pos  int   // in the bucket's all heap
	ipos []int // in the bucket's heap for interests[i]
	dpos int   // in the deadline heap; -1 if fully widened
}

func (u *user) needsInterest(keep uint8) bool {
	return u.wantInterest && keep&interestBit != 0
}

// prefers returns the mask of preferences u actually holds, to tell whether a
// widening step changes anything for it.
func (u *user) prefers() uint8 {
	var m uint8
	for d := range numKeys {
		if u.want[d] != nil {
			m |= 1 << d
		}
	}
	if u.wantInterest {
		m |= interestBit
	}
	return m
}

// NewQueue returns an empty queue, or ErrInvalidConfig.
func NewQueue(cfg Config) (*Queue, error) {
	keep, err := keepMasks(cfg.Widen)
	if err != nil {
		return nil, err
	}
	if cfg.MaxWaiting < 0 {
		return nil, fmt.Errorf("%w: MaxWaiting %d is negative", ErrInvalidConfig, cfg.MaxWaiting)
	}
	q := &Queue{
		keep:   keep,
		widen:  append([]Widening(nil), cfg.Widen...),
		now:    cfg.Now,
		blocks: cfg.Blocks,
		max:    cfg.MaxWaiting,
		users:  map[string]*user{},
		root:   &node{},
	}
	if q.now == nil {
		q.now = time.Now
	}
	if q.blocks == nil {
		q.blocks = NewMemBlocks()
	}
	return q, nil
}

// Enqueue asks for a partner for user. If a compatible user is waiting, the one
// who has waited longest is taken out of the queue and returned with matched
// true; otherwise user waits, its preferences widening as configured, until a
// later Enqueue or Tick matches it or Remove takes it out.
//
// Compatible means: each accepts the other at its current stage, the pair is not
// in Blocks, and neither names the other in Profile.Skip.
//
// "Next" is two Enqueues by the service: the partner who was left first, then the
// user who pressed next, each with Skip set to the other. Both join as new
// arrivals, behind everyone already waiting and back at stage 0: a user who skips
// gains no place on those who wait, and the pair is not matched straight back.
func (q *Queue) Enqueue(user string, p Profile) (partner string, matched bool, err error) {
	u, err := newUser(user, p)
	if err != nil {
		return "", false, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.users[user] != nil {
		return "", false, fmt.Errorf("%w: %s", ErrQueued, user)
	}
	if q.max > 0 && len(q.users) >= q.max {
		return "", false, fmt.Errorf("%w: %d users waiting", ErrFull, len(q.users))
	}
	q.seq++
	u.seq, u.at = q.seq, q.now()
	if c := q.find(u); c != nil {
		q.unlink(c)
		return c.id, true, nil
	}
	q.users[user] = u
	q.index(u)
	q.schedule(u)
	return "", false, nil
}

// Remove takes user out of the queue (it disconnected, cancelled, or is about to
// re-enqueue) and reports whether it was waiting. A removed user is never matched.
func (q *Queue) Remove(user string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	u := q.users[user]
	if u == nil {
		return false
	}
	q.unlink(u)
	return true
}

// Block records in Blocks that blocker blocked blocked: the pair is never matched
// again, at any stage. (A report is the moderation service's business; it blocks
// only if the service also calls Block.)
func (q *Queue) Block(blocker, blocked string) error {
	return q.blocks.Add(blocker, blocked)
}

// Tick applies the widening steps due by now, in order of deadline (ties by
// arrival), and returns the matches they made, in the order made. Each widened
// user is matched with the longest-waiting user compatible with it.
//
// Widening happens only here: between Ticks a user keeps the stage last applied.
// Call Tick at NextDeadline (re-arm after every Enqueue, Remove and Tick), or
// simply from a ticker: widening is then as precise as the ticker.
func (q *Queue) Tick() []Pair {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	var pairs []Pair
	for len(q.deadlines) > 0 && !q.deadlines[0].deadline.After(now) {
		u := q.deadlines[0]
		q.deadlines.remove(0)
		u.stage++
		q.schedule(u)
		if (q.keep[u.stage-1]^q.keep[u.stage])&u.prefers() == 0 {
			continue // the step drops nothing u asked for: its bucket is unchanged
		}
		q.unindex(u)
		if c := q.find(u); c != nil {
			q.unlink(c)
			if u.dpos >= 0 {
				q.deadlines.remove(u.dpos)
			}
			delete(q.users, u.id)
			pairs = append(pairs, Pair{A: u.id, B: c.id})
			continue
		}
		q.index(u)
	}
	return pairs
}

// NextDeadline returns when the next widening step is due, if any user has one
// left.
func (q *Queue) NextDeadline() (time.Time, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.deadlines) == 0 {
		return time.Time{}, false
	}
	return q.deadlines[0].deadline, true
}

// Len returns the number of users waiting.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.users)
}

// schedule puts u's next widening step, if it has one, in the deadline heap.
func (q *Queue) schedule(u *user) {
	if u.stage < len(q.widen) {
		u.deadline = u.at.Add(q.widen[u.stage].After)
		q.deadlines.push(u)
	}
}

// unlink forgets a waiting user entirely.
func (q *Queue) unlink(u *user) {
	q.unindex(u)
	if u.dpos >= 0 {
		q.deadlines.remove(u.dpos)
	}
	delete(q.users, u.id)
}
