package room

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"sync"
	"time"

	"github.com/talkrelay/talkrelay/signal/wire"
)

// maxDetachedQueue bounds the messages kept for a detached participant; past it
// the session ends as if the participant had left. It stays below the signaling
// connection's own queue (256) so that resumed and the whole backlog fit into a
// fresh connection at once.
const maxDetachedQueue = 200

// session is a live room participant's Peer. It is attached to the client's
// signaling connection, or detached while that connection has dropped and the
// client may still resume: then the room's messages wait in a bounded queue and
// the participant's peer connections go on (media and chat flow over UDP, not
// over the WebSocket). The resume token's secret lives here; the token is the
// participant id, a dot and the secret.
type session struct {
	mu     sync.Mutex
	conn   Peer           // nil while detached
	queue  []wire.Message // what the room sent while detached, in order
	secret string
	gen    uint64      // bumped by every attach, so an old expiry timer cannot end a newer detach
	expiry *time.Timer // ends the detached session; nil while attached
	expire func()      // what ending a detached session does (the participant leaves)
	ended  bool        // no resume is possible any more and nothing is kept
}

func newSession(conn Peer) *session { return &session{conn: conn} }

// Send implements Peer: to the connection, or into the queue while detached.
func (s *session) Send(m wire.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.ended:
	case s.conn != nil:
		s.conn.Send(m) // never blocks: a connection that cannot keep up closes itself
	case len(s.queue) >= maxDetachedQueue:
		s.endLocked()
	default:
		s.queue = append(s.queue, m)
	}
}

// Close implements Peer. Attached, the connection sends err and closes, and the
// participant leaves when it has (see Participant.Dropped). Detached, nobody is
// there to tell: the session ends now.
func (s *session) Close(err *wire.Error) {
	s.mu.Lock()
	conn := s.conn
	if conn == nil {
		s.endLocked()
	}
	s.mu.Unlock()
	if conn != nil {
		conn.Close(err)
	}
}

// endLocked ends a detached session from its expiry timer, soon: the caller may
// hold the room's lock (a broadcast overflowing the queue), which leaving takes.
func (s *session) endLocked() {
	if s.expiry != nil {
		s.expiry.Reset(0)
		return
	}
	s.ended = true // never detached: nothing is waiting to leave
	s.queue = nil
}

// dropOutcome is what became of a session whose connection ended.
type dropOutcome int

const (
	dropStale    dropOutcome = iota // the connection was no longer the session's: nothing to do
	dropDetached                    // the session waits for a resume
	dropEnded                       // the session is over: the participant leaves
)

// drop handles the end of connection from. A resumable drop with a window
// detaches the session, which expire ends unless a resume attaches it in time.
// unsent (may be nil) gives what from never wrote: the queue starts with it.
// It runs under s.mu, so no message of the room slips in between.
func (s *session) drop(from Peer, resumable bool, window time.Duration, expire func(), unsent func() []wire.Message) dropOutcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || s.conn != from {
		return dropStale
	}
	if unsent != nil && resumable {
		s.queue = unsent()
	}
	if !resumable || window <= 0 || len(s.queue) > maxDetachedQueue {
		s.ended = true
		s.queue = nil
		return dropEnded
	}
	s.conn = nil
	s.expire = expire
	gen := s.gen
	// Expiry: a timer, not a goroutine; stopped by attach, checked by gen.
	s.expiry = time.AfterFunc(window, func() { s.expired(gen) })
	return dropDetached
}

func (s *session) expired(gen uint64) {
	s.mu.Lock()
	if s.ended || s.conn != nil || s.gen != gen {
		s.mu.Unlock()
		return
	}
	s.ended = true
	s.queue = nil
	s.expiry = nil
	expire := s.expire
	s.mu.Unlock()
	expire()
}

// attach makes conn the session's connection and sends it first, then what was
// queued. It returns the connection it replaces (a resume can arrive before the
// server noticed the old connection die), whether the queue held an offer, and
// false if the session is over.
func (s *session) attach(conn Peer, first wire.Message) (old Peer, queuedOffer, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return nil, false, false
	}
	if s.expiry != nil {
		s.expiry.Stop()
		s.expiry = nil
	}
	s.gen++
	old, s.conn = s.conn, conn
	conn.Send(first)
	for _, m := range s.queue {
		conn.Send(m)
		queuedOffer = queuedOffer || m.Type == wire.TypeOffer
	}
	s.queue = nil
	return old, queuedOffer, true
}

// attached reports whether a connection is attached: messages reach the client now.
func (s *session) attached() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn != nil
}

// newSecret replaces the resume secret and returns it: each joined or resumed
// hands out a new token and the previous one stops working.
func (s *session) newSecret() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	secret := hex.EncodeToString(b[:])
	s.mu.Lock()
	s.secret = secret
	s.mu.Unlock()
	return secret
}

// matches reports whether secret is the session's current one.
func (s *session) matches(secret string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.secret != "" && subtle.ConstantTimeCompare([]byte(s.secret), []byte(secret)) == 1
}
