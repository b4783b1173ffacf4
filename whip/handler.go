// Package whip serves the standard HTTP WebRTC protocols: WHIP ingest (RFC
// 9725) for hosts who broadcast from OBS, GStreamer or a browser, and WHEP
// egress for viewers who watch from any WHEP player. Each session is a room
// participant like a WebSocket client's: a WHIP session is the room's host, a
// WHEP session a viewer who counts in the viewer count and receives the same
// feeds. With no signaling connection, a session lives until the client
// deletes it, its live ends, or its media connection stays down too long.
package whip

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/pion/sdp/v3"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/room"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// ContentTypeSDP is the media type of WHIP and WHEP offers and answers.
const ContentTypeSDP = "application/sdp"

// Config configures a Handler.
type Config struct {
	Rooms    *room.Manager
	Verifier *auth.Verifier
	Logger   *slog.Logger
	// ICEServers, when set, gives the STUN and TURN servers a client with that
	// identity is offered in Link headers (RFC 9725 §4.4): TURN credentials
	// are the identity's own.
	ICEServers func(identity string) []wire.ICEServer
	// SessionTimeout ends a session whose media connection has not come up,
	// or has stayed disconnected, for that long. Default 15 s.
	SessionTimeout time.Duration
	// AnswerTimeout bounds gathering the candidates an answer carries.
	// Default 5 s.
	AnswerTimeout time.Duration
	// Redirect, when set (a cluster), may send a WHEP viewer to another node
	// before it joins: a non-empty base URL is answered 307 Temporary
	// Redirect to the same endpoint there (the placement of the WebSocket's
	// redirect).
	Redirect func(g auth.Grant) string
}

// Handler serves WHIP at /whip/{room} and WHEP at /whep/{room}, and each
// session's resource below them.
type Handler struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	sessions map[string]*session
	draining bool
	ending   sync.WaitGroup // sessions' departures from their rooms under way
}

// New returns a Handler for cfg.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SessionTimeout == 0 {
		cfg.SessionTimeout = 15 * time.Second
	}
	if cfg.AnswerTimeout == 0 {
		cfg.AnswerTimeout = 5 * time.Second
	}
	return &Handler{cfg: cfg, log: cfg.Logger, sessions: map[string]*session{}}
}

// Limits on request bodies: an offer full of candidates stays far below.
const (
	maxOfferBytes    = 128 << 10
	maxFragmentBytes = 64 << 10
)

// Retry-After values, in seconds.
const (
	retryNotLive     = "2" // WHEP before the live: hosts go live within seconds of connecting
	retryUnavailable = "5"
)

// Routes registers the handler's routes on mux. Only the methods WHIP and
// WHEP use are registered, so other handlers may serve GET on these paths.
func (h *Handler) Routes(mux *http.ServeMux) {
	for _, e := range []*endpoint{whipEndpoint, whepEndpoint} {
		base := "/" + e.name + "/{room}"
		mux.HandleFunc("POST "+base, h.cors(e, h.post))
		mux.HandleFunc("OPTIONS "+base, h.cors(e, h.optionsEndpoint))
		mux.HandleFunc("PATCH "+base+"/{session}", h.cors(e, h.patch))
		mux.HandleFunc("DELETE "+base+"/{session}", h.cors(e, h.delete))
		mux.HandleFunc("OPTIONS "+base+"/{session}", h.cors(e, h.optionsSession))
	}
}

// endpoint is what differs between WHIP and WHEP.
type endpoint struct {
	name   string // path prefix: whip or whep
	role   auth.Role
	target wire.Target // the connection the client offers on
}

var (
	whipEndpoint = &endpoint{name: "whip", role: auth.RoleHost, target: wire.TargetPublisher}
	whepEndpoint = &endpoint{name: "whep", role: auth.RoleViewer, target: wire.TargetSubscriber}
)

type endpointHandler func(e *endpoint, w http.ResponseWriter, r *http.Request)

// cors lets browser pages on any origin use the endpoints: they authenticate
// with Bearer tokens, never cookies.
func (h *Handler) cors(e *endpoint, next endpointHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Access-Control-Allow-Origin", "*")
		hd.Set("Access-Control-Expose-Headers", "Location, ETag, Link, Accept-Patch, Accept-Post, Retry-After")
		next(e, w, r)
	}
}

func (h *Handler) optionsEndpoint(_ *endpoint, w http.ResponseWriter, _ *http.Request) {
	hd := w.Header()
	hd.Set("Allow", "OPTIONS, POST")
	hd.Set("Accept-Post", ContentTypeSDP)
	hd.Set("Access-Control-Allow-Methods", "OPTIONS, POST")
	hd.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
	hd.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) optionsSession(_ *endpoint, w http.ResponseWriter, _ *http.Request) {
	hd := w.Header()
	hd.Set("Allow", "OPTIONS, PATCH, DELETE")
	hd.Set("Accept-Patch", ContentTypeFragment)
	hd.Set("Access-Control-Allow-Methods", "OPTIONS, PATCH, DELETE")
	hd.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match")
	hd.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}

// post creates a session from the client's offer: WHIP publishes the host's
// media, WHEP subscribes a viewer to the live.
func (h *Handler) post(e *endpoint, w http.ResponseWriter, r *http.Request) {
	if h.isDraining() {
		w.Header().Set("Retry-After", retryUnavailable)
		writeError(w, http.StatusServiceUnavailable, wire.CodeUnavailable, "server is shutting down")
		return
	}
	if !hasContentType(r, ContentTypeSDP) {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "the offer must be "+ContentTypeSDP)
		return
	}
	roomName := r.PathValue("room")
	g, ok := h.authorize(e, w, r, roomName)
	if !ok {
		return
	}
	if e == whepEndpoint && h.cfg.Redirect != nil {
		if base := h.cfg.Redirect(g); base != "" {
			// 307 keeps the method and body: the player posts its offer there.
			w.Header().Set("Location", strings.TrimSuffix(base, "/")+"/whep/"+url.PathEscape(roomName))
			w.WriteHeader(http.StatusTemporaryRedirect)
			return
		}
	}
	offer, ok := readBody(w, r, maxOfferBytes)
	if !ok {
		return
	}
	var parsed sdp.SessionDescription
	if err := parsed.UnmarshalString(offer); err != nil || len(parsed.MediaDescriptions) == 0 {
		writeError(w, http.StatusBadRequest, wire.CodeBadSDP, "the body is not an SDP offer with media")
		return
	}
	s := newSession(h, e, g, offer)
	var p *room.Participant
	var err error
	if e == whepEndpoint {
		p, err = h.cfg.Rooms.JoinWHEP(g, s, offer)
	} else {
		p, err = h.cfg.Rooms.JoinWHIP(g, s, offer)
	}
	if err != nil {
		writeRoomError(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.AnswerTimeout)
	defer cancel()
	answer, err := p.LocalAnswer(ctx, e.target)
	if err == nil {
		err = s.start(p)
	}
	if err != nil {
		// Disconnected, not Leave: a host who came back for its live keeps it
		// for the grace period.
		p.Disconnected()
		h.log.Warn(e.name+": no answer", "room", roomName, "err", err)
		writeRoomError(w, err)
		return
	}
	if !h.add(s) {
		s.end(endShutdown)
		w.Header().Set("Retry-After", retryUnavailable)
		writeError(w, http.StatusServiceUnavailable, wire.CodeUnavailable, "server is shutting down")
		return
	}
	s.log.Info(e.name + " session started")
	hd := w.Header()
	hd.Set("Content-Type", ContentTypeSDP)
	hd.Set("Location", s.location())
	hd.Set("ETag", s.currentETag())
	hd.Set("Accept-Patch", ContentTypeFragment)
	if h.cfg.ICEServers != nil {
		for _, l := range linkHeaders(h.cfg.ICEServers(g.Identity)) {
			hd.Add("Link", l)
		}
	}
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, answer)
}

// delete ends a session: a WHIP session's live ends with it.
func (h *Handler) delete(e *endpoint, w http.ResponseWriter, r *http.Request) {
	s, ok := h.sessionFor(e, w, r)
	if !ok {
		return
	}
	s.end(endDeleted)
	w.WriteHeader(http.StatusOK)
}

// patch trickles the client's candidates, or restarts ICE when the fragment
// brings new credentials (RFC 9725 §4.3).
func (h *Handler) patch(e *endpoint, w http.ResponseWriter, r *http.Request) {
	s, ok := h.sessionFor(e, w, r)
	if !ok {
		return
	}
	if !hasContentType(r, ContentTypeFragment) {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "PATCH bodies are "+ContentTypeFragment)
		return
	}
	match := r.Header.Get("If-Match")
	if match == "" {
		writeError(w, http.StatusPreconditionRequired, "precondition_required", "If-Match is required: the session's ETag, or * for an ICE restart")
		return
	}
	body, ok := readBody(w, r, maxFragmentBytes)
	if !ok {
		return
	}
	frag, err := parseFragment(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_fragment", err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.AnswerTimeout)
	defer cancel()
	res, err := s.patch(ctx, match, frag)
	switch {
	case errors.Is(err, errETagMismatch):
		writeError(w, http.StatusPreconditionFailed, "precondition_failed", "If-Match does not match the session's current ETag")
	case errors.Is(err, errFragment):
		writeError(w, http.StatusBadRequest, "bad_fragment", err.Error())
	case errors.Is(err, errSessionEnded):
		writeError(w, http.StatusNotFound, "not_found", "the session has ended")
	case err != nil:
		writeRoomError(w, err)
	case res.restart:
		w.Header().Set("Content-Type", ContentTypeFragment)
		w.Header().Set("ETag", res.etag)
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, res.fragment)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// sessionFor finds the session a PATCH or DELETE names, for a token of its
// room and identity.
func (h *Handler) sessionFor(e *endpoint, w http.ResponseWriter, r *http.Request) (*session, bool) {
	roomName := r.PathValue("room")
	g, ok := h.authorize(e, w, r, roomName)
	if !ok {
		return nil, false
	}
	h.mu.Lock()
	s := h.sessions[r.PathValue("session")]
	h.mu.Unlock()
	if s == nil || s.e != e || s.grant.Room != roomName {
		writeError(w, http.StatusNotFound, "not_found", "no such session (it may have ended)")
		return nil, false
	}
	if s.grant.Identity != g.Identity {
		writeError(w, http.StatusForbidden, wire.CodeForbidden, "the session belongs to another identity")
		return nil, false
	}
	return s, true
}

// authorize checks the Bearer token: valid, for this room and this
// endpoint's role.
func (h *Handler) authorize(e *endpoint, w http.ResponseWriter, r *http.Request, roomName string) (auth.Grant, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(tok) == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="talkrelay"`)
		writeError(w, http.StatusUnauthorized, wire.CodeUnauthorized, "Authorization: Bearer <token> required")
		return auth.Grant{}, false
	}
	g, err := h.cfg.Verifier.Verify(strings.TrimSpace(tok))
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="talkrelay", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, wire.CodeUnauthorized, "invalid token: "+err.Error())
		return auth.Grant{}, false
	}
	if g.Room != roomName {
		writeError(w, http.StatusForbidden, wire.CodeWrongRoom, "the token is for another room")
		return auth.Grant{}, false
	}
	if g.Role != e.role {
		writeError(w, http.StatusForbidden, wire.CodeForbidden, fmt.Sprintf("%s needs a %s token, not %s", strings.ToUpper(e.name), e.role, g.Role))
		return auth.Grant{}, false
	}
	return g, true
}

func (h *Handler) isDraining() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.draining
}

// add registers a started session; false while shutting down.
func (h *Handler) add(s *session) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.draining {
		return false
	}
	h.sessions[s.id] = s
	return true
}

func (h *Handler) remove(s *session) {
	h.mu.Lock()
	if h.sessions[s.id] == s {
		delete(h.sessions, s.id)
	}
	h.mu.Unlock()
}

// Sessions is the number of open WHIP and WHEP sessions.
func (h *Handler) Sessions() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sessions)
}

// Shutdown refuses new sessions (503), ends the open ones and waits, within
// ctx, for them to have left their rooms. Call it after the rooms have shut
// down, so lives end as server_shutdown rather than as their hosts leaving.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.draining = true
	open := make([]*session, 0, len(h.sessions))
	for _, s := range h.sessions {
		open = append(open, s)
	}
	h.mu.Unlock()
	for _, s := range open {
		s.end(endShutdown)
	}
	done := make(chan struct{})
	go func() {
		h.ending.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return errors.Join(errors.New("whip: sessions still ending at shutdown deadline"), ctx.Err())
	}
}

func hasContentType(r *http.Request, want string) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && strings.EqualFold(mt, want)
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64) (string, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body is over %d bytes", limit))
		} else {
			writeError(w, http.StatusBadRequest, "bad_request", "cannot read the body")
		}
		return "", false
	}
	return string(b), true
}
