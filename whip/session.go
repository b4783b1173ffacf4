package whip

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/room"
	"github.com/talkrelay/talkrelay/signal/wire"
)

var (
	errETagMismatch = errors.New("whip: If-Match does not match the ETag")
	errSessionEnded = errors.New("whip: session ended")
)

// endReason is why a session ended; it decides how it leaves its room.
type endReason int

const (
	endDeleted   endReason = iota // the client sent DELETE: a WHIP host's live ends
	endMediaLost                  // the media connection never came up, failed, or stayed down
	endLiveEnded                  // the live the session sent or watched ended
	endClosed                     // the room let it go: replaced by the same identity, kicked
	endShutdown                   // the server is shutting down
)

var endNames = [...]string{"deleted", "media_lost", "live_ended", "closed", "shutdown"}

func (r endReason) String() string { return endNames[r] }

// session is one WHIP or WHEP session: the HTTP resource the client PATCHes
// and DELETEs, and the room.Peer of its participant. Room messages have no
// one to reach; the ones that end the session are acted on.
type session struct {
	h     *Handler
	e     *endpoint
	id    string
	grant auth.Grant
	log   *slog.Logger

	patchMu sync.Mutex // one PATCH at a time: an ICE restart changes what a trickle checks

	mu          sync.Mutex
	p           *room.Participant // set by start
	offer       string            // the client's latest offer: an ICE restart rewrites its credentials
	clientUfrag string            // the client's current ICE username fragment
	etag        string            // names the current ICE session (RFC 9725 §4.3.1)
	downTimer   *time.Timer       // ends the session while its media connection is down
	ended       bool
}

func newSession(h *Handler, e *endpoint, g auth.Grant, offer string) *session {
	s := &session{h: h, e: e, id: randomID(), grant: g, offer: offer}
	s.clientUfrag, _ = iceCredentials(offer)
	s.log = h.log.With("protocol", e.name, "session", s.id, "room", g.Room, "identity", g.Identity)
	return s
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func newETag() string { return `"` + randomID() + `"` }

// location is the session's resource URL.
func (s *session) location() string {
	return "/" + s.e.name + "/" + url.PathEscape(s.grant.Room) + "/" + s.id
}

func (s *session) currentETag() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.etag
}

// start binds the session to its participant, whose connection has answered,
// and begins watching that connection.
func (s *session) start(p *room.Participant) error {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return wire.Errorf(wire.CodeNoSession, "the session ended as it began (its live ended)")
	}
	s.p = p
	s.etag = newETag()
	s.mu.Unlock()
	return p.OnConnectionState(s.e.target, s.mediaState)
}

// Send implements room.Peer. A WHIP or WHEP client hears nothing from the
// room; the end of its live ends the session (its connection closes).
func (s *session) Send(m wire.Message) {
	switch m.Type {
	case wire.TypeLiveEnded:
		s.endSoon(endLiveEnded)
	case wire.TypeServerShutdown:
		s.endSoon(endShutdown)
	}
}

// Close implements room.Peer: the room has let the participant go.
func (s *session) Close(*wire.Error) { s.endSoon(endClosed) }

// endSoon ends the session from its own goroutine: the room calls Send and
// Close holding its lock, which leaving the room takes.
func (s *session) endSoon(why endReason) {
	s.mu.Lock()
	ended := s.ended
	s.mu.Unlock()
	if ended {
		return
	}
	s.h.ending.Add(1)
	// Departure: owned by the handler (Shutdown waits for it); ends with end.
	go func() {
		defer s.h.ending.Done()
		s.end(why)
	}()
}

// end ends the session once: it leaves the room as why says and its resource
// is gone.
func (s *session) end(why endReason) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	if s.downTimer != nil {
		s.downTimer.Stop()
		s.downTimer = nil
	}
	p := s.p
	s.mu.Unlock()
	s.h.remove(s)
	if p != nil {
		switch why {
		case endDeleted:
			if s.e == whipEndpoint {
				_ = p.EndLive() // not_live when it never started: nothing to end
			}
			p.Leave()
		case endMediaLost, endClosed:
			// As a dropped WebSocket: a host's live waits for the host to come
			// back (a new WHIP session of the same identity continues it).
			p.Disconnected()
		default:
			p.Leave()
		}
	}
	s.log.Info("session ended", "reason", why.String())
}

// mediaState follows the media connection: a session whose connection is not
// up for the handler's SessionTimeout, or failed, ends.
func (s *session) mediaState(st webrtc.PeerConnectionState) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	lost := false
	switch st {
	case webrtc.PeerConnectionStateConnected:
		if s.downTimer != nil {
			s.downTimer.Stop()
			s.downTimer = nil
		}
	case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
		lost = true
	default: // new, connecting, disconnected
		if s.downTimer == nil {
			// A timer, not a goroutine; stopped when the connection comes up
			// and when the session ends.
			s.downTimer = time.AfterFunc(s.h.cfg.SessionTimeout, func() {
				s.log.Info("media connection down too long", "timeout", s.h.cfg.SessionTimeout)
				s.end(endMediaLost)
			})
		}
	}
	s.mu.Unlock()
	if lost {
		s.log.Info("media connection " + st.String())
		s.endSoon(endMediaLost)
	}
}

// patchResult is what a PATCH did: an ICE restart answers with a fragment.
type patchResult struct {
	restart  bool
	etag     string
	fragment string
}

// patch applies a trickle ICE or ICE restart fragment. ifMatch is the
// request's If-Match: the current ETag, or * (an ICE restart).
func (s *session) patch(ctx context.Context, ifMatch string, f fragment) (patchResult, error) {
	s.patchMu.Lock()
	defer s.patchMu.Unlock()
	s.mu.Lock()
	p, etag, ufrag, ended := s.p, s.etag, s.clientUfrag, s.ended
	s.mu.Unlock()
	if ended {
		return patchResult{}, errSessionEnded
	}
	if !matchesETag(ifMatch, etag) {
		return patchResult{}, errETagMismatch
	}
	if f.ufrag != "" && f.ufrag != ufrag {
		if f.pwd == "" {
			return patchResult{}, fmt.Errorf("%w: an ICE restart needs ice-pwd with the new ice-ufrag", errFragment)
		}
		return s.restartICE(ctx, p, f)
	}
	for i := range f.candidates {
		if err := p.Candidate(s.e.target, &f.candidates[i]); err != nil {
			return patchResult{}, err
		}
	}
	return patchResult{}, nil
}

// restartICE restarts the session's ICE with the client's new credentials:
// its offer, with them, is applied again and our new credentials and
// candidates answered (RFC 9725 §4.3.2). A failed restart leaves the old ICE
// session as it was.
func (s *session) restartICE(ctx context.Context, p *room.Participant, f fragment) (patchResult, error) {
	s.mu.Lock()
	offer := withICECredentials(s.offer, f.ufrag, f.pwd)
	s.mu.Unlock()
	if err := p.Reoffer(s.e.target, offer); err != nil {
		return patchResult{}, err
	}
	answer, err := p.LocalAnswer(ctx, s.e.target)
	if err != nil {
		return patchResult{}, err
	}
	for i := range f.candidates {
		if err := p.Candidate(s.e.target, &f.candidates[i]); err != nil {
			s.log.Debug("restart candidate refused", "err", err)
		}
	}
	s.mu.Lock()
	s.offer, s.clientUfrag, s.etag = offer, f.ufrag, newETag()
	etag := s.etag
	s.mu.Unlock()
	s.log.Info("ICE restarted")
	return patchResult{restart: true, etag: etag, fragment: answerFragment(answer)}, nil
}

// matchesETag evaluates If-Match (RFC 9110 §13.1.1) against etag with the
// strong comparison: * or a listed tag equal to it.
func matchesETag(header, etag string) bool {
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || (tag == etag && !strings.HasPrefix(tag, "W/")) {
			return true
		}
	}
	return false
}
