package turn

import (
	"net"
	"sync"
)

// quota bounds the allocations one user (identity) holds at once: an
// allocation is counted from its creation to its deletion, and a new one is
// refused (486 Allocation Quota Reached) while the user is at the bound.
type quota struct {
	max int

	mu   sync.Mutex
	live map[string]int
}

func newQuota(max int) *quota { return &quota{max: max, live: map[string]int{}} }

// allow is the QuotaHandler.
func (q *quota) allow(user, _ string, _ net.Addr) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.live[user] < q.max
}

func (q *quota) created(_, _ net.Addr, _, user, _ string, _ net.Addr, _ int) {
	q.mu.Lock()
	q.live[user]++
	q.mu.Unlock()
}

func (q *quota) deleted(_, _ net.Addr, _, user, _ string) {
	q.mu.Lock()
	if q.live[user] <= 1 {
		delete(q.live, user)
	} else {
		q.live[user]--
	}
	q.mu.Unlock()
}
