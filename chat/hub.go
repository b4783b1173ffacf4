package chat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/talkrelay/talkrelay/metrics"
)

// Hub is the chat of every room on one server: it validates, moderates, stores and
// fans out messages. It is safe for concurrent use. Each room in use (with members,
// or a System call in progress) has one flusher goroutine; nothing else runs in the
// background.
type Hub struct {
	cfg    Config
	log    *slog.Logger
	filter wordFilter
	onKick atomic.Pointer[func(room, identity string)]
	// onMessage is told of each stored user message (see OnMessage).
	onMessage atomic.Pointer[func(room string, from Participant)]
	// onModerate is told of each host action applied here (see OnModerate).
	onModerate atomic.Pointer[func(room string, a Moderation)]
	met        *metrics.SFU
	closed     atomic.Bool
	wg         sync.WaitGroup // the rooms' flushers

	mu    sync.Mutex
	rooms map[string]*room
}

// NewHub returns a Hub configured by cfg (zero fields take their defaults).
func NewHub(cfg Config) *Hub {
	cfg = cfg.withDefaults()
	met := cfg.Metrics
	if met == nil {
		met = metrics.NewSFU(nil)
	}
	return &Hub{
		met:    met,
		cfg:    cfg,
		log:    cfg.Logger,
		filter: newWordFilter(cfg.BlockedWords),
		rooms:  map[string]*room{},
	}
}

// OnKick sets the function called after a host kicks or bans an identity, so the
// room layer can disconnect that participant. The hub has already removed the
// identity's members from the chat. fn runs in the host's Handle call and must not
// block for long; it may call Leave on any member.
func (h *Hub) OnKick(fn func(room, identity string)) { h.onKick.Store(&fn) }

func (h *Hub) kicked(room, identity string) {
	if fn := h.onKick.Load(); fn != nil && *fn != nil {
		(*fn)(room, identity)
	}
}

// Join adds a participant reachable through rec to a room's chat. It refuses a
// banned identity with an error matching ErrBanned. The member first receives the
// newest HistoryOnJoin messages, then every later message live: nothing missing and
// nothing twice at the seam.
func (h *Hub) Join(ctx context.Context, roomName string, who Participant, rec Recipient) (*Member, error) {
	return h.JoinAfter(ctx, roomName, who, rec, 0)
}

// JoinAfter is Join for a client that already holds the room's messages up to
// Seq after (it was in the chat before its connection was replaced): instead of
// the newest HistoryOnJoin it receives every message after that Seq, then the
// live ones, with nothing missing and nothing twice. More than QueueLimit
// missed messages come as the newest QueueLimit after a gap. after 0 is Join.
func (h *Hub) JoinAfter(ctx context.Context, roomName string, who Participant, rec Recipient, after uint64) (*Member, error) {
	if roomName == "" || who.Identity == "" || rec == nil {
		return nil, errors.New("chat: join needs a room, an identity and a recipient")
	}
	r, err := h.acquire(roomName)
	if err != nil {
		return nil, err
	}
	joined := false
	defer func() {
		if !joined {
			h.release(r)
		}
	}()
	if r.mod.banned(who.Identity, h.cfg.Clock()) {
		return nil, ErrBanned
	}
	banned, err := h.cfg.Store.Banned(ctx, roomName, who.Identity)
	if err != nil {
		return nil, fmt.Errorf("chat: join %s as %s: %w: %w", roomName, who.Identity, ErrStoreFailed, err)
	}
	if banned {
		return nil, ErrBanned
	}
	if err := r.load(ctx); err != nil {
		return nil, fmt.Errorf("chat: join %s: %w: %w", roomName, ErrStoreFailed, err)
	}
	m := &Member{hub: h, room: r, who: who, rec: rec, idx: -1}
	behind := r.register(m, after)
	joined = true
	m.mu.Lock()
	pending := !m.sendOut() // the backfill goes out now, whatever the room's size
	m.mu.Unlock()
	if pending || behind {
		r.poke()
	}
	return m, nil
}

// System stores a system message (live started, live ended) in a room and fans it
// out to the room's members, if any.
func (h *Hub) System(ctx context.Context, roomName, text string) (Message, error) {
	if !utf8.ValidString(text) || strings.TrimSpace(text) == "" {
		return Message{}, fmt.Errorf("chat: system message for %s: %w", roomName, errorf(CodeEmpty, "text is empty or not UTF-8"))
	}
	r, err := h.acquire(roomName)
	if err != nil {
		return Message{}, err
	}
	defer h.release(r)
	m, err := r.append(ctx, Message{Room: roomName, Text: text, Kind: KindSystem})
	if err != nil {
		return Message{}, fmt.Errorf("%w: %w", ErrStoreFailed, err)
	}
	return m, nil
}

// Close stops every room's flusher and waits for them to end. Members stay valid
// but receive nothing more; Join and Handle then fail with ErrClosed.
func (h *Hub) Close() {
	h.closed.Store(true)
	h.mu.Lock()
	rooms := make([]*room, 0, len(h.rooms))
	for _, r := range h.rooms {
		rooms = append(rooms, r)
	}
	clear(h.rooms)
	h.mu.Unlock()
	for _, r := range rooms {
		r.stop()
	}
	h.wg.Wait()
}

// acquire returns the named room with a reference taken, creating it (and starting
// its flusher) if needed.
func (h *Hub) acquire(name string) (*room, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed.Load() {
		return nil, ErrClosed
	}
	r := h.rooms[name]
	if r == nil {
		r = newRoom(h, name)
		h.rooms[name] = r
		h.wg.Add(1)
		go r.run() // owned by the room: ends when release drops it or Close stops it
	}
	r.refs.Add(1)
	return r, nil
}

// release drops a reference; the last one removes the room and stops its flusher.
// A room at zero references may still be taken again by acquire (under h.mu) until
// it is removed, so the check is repeated under the lock.
func (h *Hub) release(r *room) {
	if r.refs.Add(-1) > 0 {
		return
	}
	h.mu.Lock()
	removed := r.refs.Load() <= 0 && h.rooms[r.name] == r
	if removed {
		delete(h.rooms, r.name)
	}
	h.mu.Unlock()
	if removed {
		r.stop() // a room Close removed was stopped by Close
	}
}
