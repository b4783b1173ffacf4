// Package room holds rooms and sessions in the LiveTalk model: one host on camera,
// viewers who watch; roles, viewer count, host controls, the live's lifecycle and
// its record. It turns participants' requests into media operations.
package room

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/chat"
	"github.com/talkrelay/talkrelay/media"
	"github.com/talkrelay/talkrelay/metrics"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// Peer is how a room reaches a participant's client (its signaling connection).
type Peer interface {
	// Send queues m for the client. It never blocks: a connection that cannot keep
	// up is closed by its owner.
	Send(m wire.Message)
	// Close sends err (when not nil) and ends the connection.
	Close(err *wire.Error)
}

// Config configures a Manager.
type Config struct {
	Engine *media.Engine
	Lives  LiveStore
	Logger *slog.Logger
	// HostGrace is how long a live survives its host's dropped connection, waiting
	// for the host to come back. Default 30 s.
	HostGrace time.Duration
	// ResumeWindow is how long a participant whose signaling connection dropped
	// stays in its room, detached, for the client to resume the session (join
	// with its resume token). A host's HostGrace starts only after it. Default
	// 30 s; negative: a dropped connection leaves at once.
	ResumeWindow time.Duration
	// CountInterval is the least time between two viewer-count pushes. Default 1 s.
	CountInterval time.Duration
	// FeedWorkers is the number of fan-out workers per feed; 0 means GOMAXPROCS.
	FeedWorkers int
	// Chat, when set, gives every participant a chat data channel on its
	// subscriber connection.
	Chat *chat.Hub
	// MaxRooms bounds the rooms open at once; MaxParticipants the participants
	// of one room. Past either, joins get server_full. Defaults 10,000 and 20,000.
	MaxRooms        int
	MaxParticipants int
	// MaxViewers bounds the viewers of all rooms together (the node's
	// capacity); past it viewer joins get server_full. Default 100,000.
	MaxViewers int
	// MaxSpeakers bounds who may publish in a group room: later participants
	// listen (their offers are refused). Default DefaultMaxSpeakers (50).
	MaxSpeakers int
	// Banned, when set, refuses identities the host banned from a room.
	Banned func(ctx context.Context, room, identity string) (bool, error)
	// Metrics records lives, their duration and engagement, and data channels.
	// Nil records into unregistered metrics.
	Metrics *metrics.SFU
	// ICEServers, when set, gives the ICE servers (TURN with fresh
	// credentials) each joined and resumed carries for an identity.
	ICEServers func(identity string) []wire.ICEServer
	// Nodes, when set (in a cluster), gives the other nodes' base URLs that
	// joined carries, for a client to fail over to.
	Nodes func() []string
	// ContinueLive, when set (in a cluster), returns the live host was
	// running in room on a node that died, so a host publishing here continues
	// that live (same id and start) instead of starting a new one; nil when
	// there is none.
	ContinueLive func(room, host string) *wire.Live
}

// Manager owns the rooms of one server.
type Manager struct {
	cfg Config
	log *slog.Logger
	// viewers counts the viewers of all rooms, for MaxViewers.
	viewers atomic.Int64

	mu     sync.Mutex
	rooms  map[string]*Room
	closed bool
}

// NewManager returns an empty Manager.
func NewManager(cfg Config) *Manager {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Lives == nil {
		cfg.Lives = NewMemoryLiveStore()
	}
	if cfg.HostGrace == 0 {
		cfg.HostGrace = 30 * time.Second
	}
	if cfg.ResumeWindow == 0 {
		cfg.ResumeWindow = 30 * time.Second
	}
	if cfg.CountInterval == 0 {
		cfg.CountInterval = time.Second
	}
	if cfg.MaxRooms == 0 {
		cfg.MaxRooms = 10_000
	}
	if cfg.MaxParticipants == 0 {
		cfg.MaxParticipants = 20_000
	}
	if cfg.MaxViewers == 0 {
		cfg.MaxViewers = 100_000
	}
	if cfg.MaxSpeakers == 0 {
		cfg.MaxSpeakers = DefaultMaxSpeakers
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewSFU(nil)
	}
	m := &Manager{cfg: cfg, log: cfg.Logger, rooms: map[string]*Room{}}
	if cfg.Chat != nil {
		cfg.Chat.OnKick(m.kick)
		cfg.Chat.OnMessage(m.chatted)
	}
	return m
}

// kick disconnects identity from room: the host kicked or banned it in chat.
func (m *Manager) kick(roomName, identity string) {
	m.mu.Lock()
	r := m.rooms[roomName]
	m.mu.Unlock()
	if r == nil {
		return
	}
	for _, p := range r.withIdentity(identity) {
		p.peer.Close(&wire.Error{Code: wire.CodeKicked, Message: "removed from the room by the host", Fatal: true})
	}
}

// Lives is where live records are kept.
func (m *Manager) Lives() LiveStore { return m.cfg.Lives }

// Join admits the bearer of g to its room, reachable through peer, and sends it
// joined (echoing joinID). Errors are *wire.Error. Enter also resumes sessions.
func (m *Manager) Join(g auth.Grant, peer Peer, joinID string) (*Participant, error) {
	return m.join(g, peer, JoinOptions{ID: joinID})
}

func (m *Manager) join(g auth.Grant, peer Peer, o JoinOptions) (*Participant, error) {
	if g.Role != auth.RoleHost && g.Role != auth.RoleViewer {
		return nil, wire.Errorf(wire.CodeForbidden, "role %q cannot join a live room", g.Role)
	}
	if strings.HasPrefix(g.Room, CallRoomPrefix) {
		return nil, &wire.Error{Code: wire.CodeForbidden, Message: "room names starting with " + CallRoomPrefix + " belong to calls", Fatal: true}
	}
	if m.cfg.Banned != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		banned, err := m.cfg.Banned(ctx, g.Room, g.Identity)
		cancel()
		if err != nil {
			m.log.Error("ban check", "err", err, "room", g.Room)
			return nil, &wire.Error{Code: wire.CodeInternal, Message: "cannot check the room's bans", Fatal: true}
		}
		if banned {
			return nil, &wire.Error{Code: wire.CodeBanned, Message: "you are banned from this room", Fatal: true}
		}
	}
	kind := kindOf(g)
	for {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return nil, &wire.Error{Code: wire.CodeUnavailable, Message: "server is shutting down", Fatal: true}
		}
		r := m.rooms[g.Room]
		if r == nil {
			if len(m.rooms) >= m.cfg.MaxRooms {
				m.mu.Unlock()
				return nil, &wire.Error{Code: wire.CodeServerFull, Message: "this server has no room for another room; try later", Fatal: true}
			}
			r = newRoomOfKind(m, g.Room, kind)
			m.rooms[g.Room] = r
		}
		m.mu.Unlock()
		if r.kind != kind {
			return nil, wrongKind(r, g)
		}
		p, err := r.join(g, peer, o)
		if err == errRoomClosed {
			continue // the room emptied and closed as we looked it up: take a fresh one
		}
		return p, err
	}
}

// RoomInfo is a room's state for the REST API.
type RoomInfo struct {
	Name         string     `json:"name"`
	Type         string     `json:"type"` // live, call or group
	Viewers      int        `json:"viewers"`
	Participants int        `json:"participants"`
	Live         *wire.Live `json:"live,omitempty"`
}

// Room returns a room's state; ok is false when no such room is open.
func (m *Manager) Room(name string) (RoomInfo, bool) {
	m.mu.Lock()
	r := m.rooms[name]
	m.mu.Unlock()
	if r == nil {
		return RoomInfo{}, false
	}
	return r.info(), true
}

func (m *Manager) removeRoom(r *Room) {
	m.mu.Lock()
	if m.rooms[r.name] == r {
		delete(m.rooms, r.name)
	}
	m.mu.Unlock()
}

// Shutdown ends every live (recording it), tells every participant the server is
// going away and closes their connections.
func (m *Manager) Shutdown() {
	m.mu.Lock()
	m.closed = true
	rooms := make([]*Room, 0, len(m.rooms))
	for _, r := range m.rooms {
		rooms = append(rooms, r)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range rooms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.shutdown()
		}()
	}
	wg.Wait()
}

func newID(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}
