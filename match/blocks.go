package match

import "sync"

// Blocks is the set of pairs never to be matched again. The service backs it with
// the store so that blocks outlive the process; MemBlocks serves tests and a
// single process.
//
// The queue calls Has while holding its lock, once for each candidate it is about
// to prefer, so Has must answer from memory (cache the store's pairs in it) and
// must not call back into the queue. Pairs are only ever added: the queue relies on
// a pair that was incompatible staying so.
type Blocks interface {
	// Has reports whether a and b must never be matched. It is symmetric:
	// Has(a, b) == Has(b, a).
	Has(a, b string) bool
	// Add records that blocker blocked blocked; afterwards Has is true for the pair
	// in either order.
	Add(blocker, blocked string) error
}

// MemBlocks is an in-memory Blocks, safe for concurrent use. It never forgets a
// pair.
type MemBlocks struct {
	mu    sync.RWMutex
	pairs map[[2]string]struct{}
}

// NewMemBlocks returns an empty MemBlocks.
func NewMemBlocks() *MemBlocks {
	return &MemBlocks{pairs: map[[2]string]struct{}{}}
}

// Has implements Blocks.
func (m *MemBlocks) Has(a, b string) bool {
	m.mu.RLock()
	_, ok := m.pairs[pairKey(a, b)]
	m.mu.RUnlock()
	return ok
}

// Add implements Blocks; it never fails.
func (m *MemBlocks) Add(blocker, blocked string) error {
	m.mu.Lock()
	m.pairs[pairKey(blocker, blocked)] = struct{}{}
	m.mu.Unlock()
	return nil
}

// Len returns the number of blocked pairs.
func (m *MemBlocks) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.pairs)
}

// pairKey orders the pair so that both directions share one entry.
func pairKey(a, b string) [2]string {
	if b < a {
		a, b = b, a
	}
	return [2]string{a, b}
}
