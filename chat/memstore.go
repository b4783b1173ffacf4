package chat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// MemoryStore is a Store in memory, safe for concurrent use: the store for tests and
// for a single process that may lose its chat on restart. It keeps the newest
// MaxPerRoom messages of each room (older ones fall out of history). Set its fields
// before first use.
type MemoryStore struct {
	// MaxPerRoom caps the messages kept per room. Default (0) 100,000.
	MaxPerRoom int
	// Now stamps messages and decides whether bans have expired. Default time.Now.
	Now func() time.Time

	idPrefix string

	mu      sync.Mutex
	rooms   map[string]*memRoom
	reports map[string][]Report
	bans    map[[2]string]time.Time // {room, identity} → until (zero: forever)
	ids     uint64
}

var _ Store = (*MemoryStore)(nil)

// memRoom is one room's kept messages: msgs[i] has Seq base+i+1.
type memRoom struct {
	base    uint64
	msgs    []Message
	deleted []bool
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	return &MemoryStore{
		idPrefix: hex.EncodeToString(b[:]),
		rooms:    map[string]*memRoom{},
		reports:  map[string][]Report{},
		bans:     map[[2]string]time.Time{},
	}
}

func (s *MemoryStore) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// room returns the named room, creating it; the caller holds s.mu. It also makes
// the zero MemoryStore usable.
func (s *MemoryStore) room(name string) *memRoom {
	if s.rooms == nil {
		s.rooms = map[string]*memRoom{}
	}
	r := s.rooms[name]
	if r == nil {
		r = &memRoom{}
		s.rooms[name] = r
	}
	return r
}

// AppendChat implements Store.
func (s *MemoryStore) AppendChat(ctx context.Context, m Message) (Message, error) {
	if err := ctx.Err(); err != nil {
		return Message{}, fmt.Errorf("memory store: append: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.room(m.Room)
	m.Seq = r.base + uint64(len(r.msgs)) + 1
	if m.ID == "" {
		s.ids++
		m.ID = s.idPrefix + "-" + strconv.FormatUint(s.ids, 36)
	}
	if m.At.IsZero() {
		m.At = s.now().UTC()
	}
	r.msgs = append(r.msgs, m)
	r.deleted = append(r.deleted, false)
	limit := s.MaxPerRoom
	if limit <= 0 {
		limit = 100_000
	}
	if over := len(r.msgs) - limit; over > 0 {
		// Shift down in place so the backing arrays do not grow without bound.
		r.base += uint64(over)
		r.msgs = append(r.msgs[:0], r.msgs[over:]...)
		r.deleted = append(r.deleted[:0], r.deleted[over:]...)
	}
	return m, nil
}

// ChatHistory implements Store.
func (s *MemoryStore) ChatHistory(ctx context.Context, room string, beforeSeq uint64, limit int) ([]Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory store: history: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[room]
	if r == nil || limit <= 0 {
		return nil, nil
	}
	end := len(r.msgs) // index after the newest candidate
	if beforeSeq > 0 && beforeSeq-1 < r.base+uint64(end) {
		if beforeSeq-1 <= r.base {
			return nil, nil
		}
		end = int(beforeSeq - 1 - r.base)
	}
	var out []Message
	for i := end - 1; i >= 0 && len(out) < limit; i-- {
		if !r.deleted[i] {
			out = append(out, r.msgs[i])
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// ChatSince implements Store.
func (s *MemoryStore) ChatSince(ctx context.Context, room string, afterSeq uint64, limit int) ([]Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory store: since: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[room]
	if r == nil || limit <= 0 {
		return nil, nil
	}
	start := 0
	if afterSeq > r.base {
		start = int(min(afterSeq-r.base, uint64(len(r.msgs))))
	}
	var out []Message
	for i := start; i < len(r.msgs) && len(out) < limit; i++ {
		if !r.deleted[i] {
			out = append(out, r.msgs[i])
		}
	}
	return out, nil
}

// DeleteChat implements Store.
func (s *MemoryStore) DeleteChat(ctx context.Context, room string, seq uint64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory store: delete: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[room]
	if r == nil || seq <= r.base || seq > r.base+uint64(len(r.msgs)) || r.deleted[seq-r.base-1] {
		return fmt.Errorf("memory store: delete %s/%d: %w", room, seq, ErrNotFound)
	}
	r.deleted[seq-r.base-1] = true
	return nil
}

// ClearChat implements Store.
func (s *MemoryStore) ClearChat(ctx context.Context, room string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory store: clear: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.rooms[room]; r != nil {
		for i := range r.deleted {
			r.deleted[i] = true
		}
	}
	return nil
}

// AddReport implements Store.
func (s *MemoryStore) AddReport(ctx context.Context, r Report) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory store: report: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reports == nil {
		s.reports = map[string][]Report{}
	}
	s.reports[r.Room] = append(s.reports[r.Room], r)
	return nil
}

// Reports returns the reports filed in room, oldest first.
func (s *MemoryStore) Reports(room string) []Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Report(nil), s.reports[room]...)
}

// Ban implements Store.
func (s *MemoryStore) Ban(ctx context.Context, room, identity string, until time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory store: ban: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bans == nil {
		s.bans = map[[2]string]time.Time{}
	}
	s.bans[[2]string{room, identity}] = until
	return nil
}

// Banned implements Store.
func (s *MemoryStore) Banned(ctx context.Context, room, identity string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("memory store: banned: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	until, ok := s.bans[[2]string{room, identity}]
	if !ok {
		return false, nil
	}
	if until.IsZero() || s.now().Before(until) {
		return true, nil
	}
	delete(s.bans, [2]string{room, identity})
	return false, nil
}
