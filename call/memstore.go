package call

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// MemoryStore keeps settings, users and call records in memory: for tests and
// single-node development. Like the durable store it keeps each user's newest
// 1000 calls. It is safe for concurrent use.
type MemoryStore struct {
	mu    sync.Mutex
	users map[string]*memUser
}

var _ Store = (*MemoryStore)(nil)

// maxMemCalls is how many calls MemoryStore keeps per user.
const maxMemCalls = 1000

type memUser struct {
	name        string
	seen        time.Time // zero: never connected
	settings    Settings
	hasSettings bool
	calls       []Record            // oldest first, at most maxMemCalls
	ids         map[string]struct{} // IDs of calls, for retries
}

// errEmptyIdentity matches the durable store, which refuses empty names.
var errEmptyIdentity = errors.New("call: empty identity")

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{users: make(map[string]*memUser)}
}

// user returns identity's entry, creating it. Callers hold m.mu.
func (m *MemoryStore) user(identity string) *memUser {
	u := m.users[identity]
	if u == nil {
		u = &memUser{ids: make(map[string]struct{})}
		m.users[identity] = u
	}
	return u
}

// Settings returns identity's settings; ok is false when none were saved.
func (m *MemoryStore) Settings(_ context.Context, identity string) (Settings, bool, error) {
	if identity == "" {
		return Settings{}, false, errEmptyIdentity
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.users[identity]
	if u == nil || !u.hasSettings {
		return Settings{}, false, nil
	}
	return cloneSettings(u.settings), true, nil
}

// PutSettings replaces identity's settings.
func (m *MemoryStore) PutSettings(_ context.Context, identity string, s Settings) error {
	if identity == "" {
		return errEmptyIdentity
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.user(identity)
	u.settings, u.hasSettings = cloneSettings(s), true
	return nil
}

// RememberUser records that identity connected, under name (an empty name
// keeps the previous one).
func (m *MemoryStore) RememberUser(_ context.Context, identity, name string) error {
	if identity == "" {
		return errEmptyIdentity
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.user(identity)
	if name != "" {
		u.name = name
	}
	u.seen = time.Now()
	return nil
}

// UserExists reports whether identity ever connected or saved settings.
func (m *MemoryStore) UserExists(_ context.Context, identity string) (bool, error) {
	if identity == "" {
		return false, errEmptyIdentity
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.users[identity]
	return u != nil && (!u.seen.IsZero() || u.hasSettings), nil
}

// SaveCall adds rec to the history of its caller and its callee (once when
// they are the same). A record whose ID a history already holds is not added
// to it again.
func (m *MemoryStore) SaveCall(_ context.Context, rec Record) error {
	if rec.Caller == "" || rec.Callee == "" {
		return errEmptyIdentity
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.user(rec.Caller).add(rec)
	if rec.Callee != rec.Caller {
		m.user(rec.Callee).add(rec)
	}
	return nil
}

func (u *memUser) add(rec Record) {
	if rec.ID != "" {
		if _, dup := u.ids[rec.ID]; dup {
			return
		}
		u.ids[rec.ID] = struct{}{}
	}
	if len(u.calls) == maxMemCalls {
		delete(u.ids, u.calls[0].ID)
		// Shift rather than reslice, so the backing array stays one size.
		copy(u.calls, u.calls[1:])
		u.calls = u.calls[:len(u.calls)-1]
	}
	u.calls = append(u.calls, rec)
}

// Calls returns identity's calls, newest first: at most limit, which is
// clamped to 1..500 with 0 or less meaning 50, as in the durable store.
func (m *MemoryStore) Calls(_ context.Context, identity string, limit int) ([]Record, error) {
	if identity == "" {
		return nil, errEmptyIdentity
	}
	switch {
	case limit <= 0:
		limit = 50
	case limit > 500:
		limit = 500
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []Record{}
	if u := m.users[identity]; u != nil {
		for i := len(u.calls) - 1; i >= 0 && len(out) < limit; i-- {
			out = append(out, u.calls[i])
		}
	}
	return out, nil
}

// cloneSettings copies s's Accept list, so neither side's later changes reach
// the other; a nil list stays nil and an empty one empty.
func cloneSettings(s Settings) Settings {
	s.Accept = slices.Clone(s.Accept)
	return s
}
