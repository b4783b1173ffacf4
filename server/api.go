package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/store"
	"github.com/talkrelay/talkrelay/web"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /ws", s.signal)
	mux.Handle("GET /metrics", s.metric.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /v1/rooms/{room}", s.getRoom)
	mux.HandleFunc("GET /v1/rooms/{room}/lives", s.getLives)
	mux.HandleFunc("GET /v1/rooms/{room}/chat", s.getChat)
	mux.HandleFunc("GET /v1/rooms/{room}/reports", s.getReports)
	mux.HandleFunc("GET /v1/users/{id}/settings", s.getUserSettings)
	mux.HandleFunc("PUT /v1/users/{id}/settings", s.putUserSettings)
	mux.HandleFunc("GET /v1/users/{id}/calls", s.getUserCalls)
	s.whip.Routes(mux) // POST, PATCH, DELETE, OPTIONS under /whip/ and /whep/
	if s.cfg.DevTokens {
		mux.HandleFunc("POST /dev/token", s.postDevToken)
	}
	mux.Handle("GET /", web.Handler()) // the browser app
	return mux
}

// authorize checks the Bearer token: an admin token opens any room, another
// token only its own.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, roomName string) bool {
	_, ok := s.grant(w, r, roomName)
	return ok
}

// bearer verifies the request's Bearer token, answering 401 when it cannot.
func (s *Server) bearer(w http.ResponseWriter, r *http.Request) (auth.Grant, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		writeError(w, http.StatusUnauthorized, "unauthorized", "Authorization: Bearer <token> required")
		return auth.Grant{}, false
	}
	g, err := s.verify.Verify(strings.TrimSpace(tok))
	if err != nil {
		writeError(w, http.StatusUnauthorized, "unauthorized", err.Error())
		return auth.Grant{}, false
	}
	return g, true
}

// grant is authorize returning the token's grant.
func (s *Server) grant(w http.ResponseWriter, r *http.Request, roomName string) (auth.Grant, bool) {
	g, ok := s.bearer(w, r)
	if !ok {
		return auth.Grant{}, false
	}
	if g.Role != auth.RoleAdmin && g.Room != roomName {
		writeError(w, http.StatusForbidden, "forbidden", "token is for another room")
		return auth.Grant{}, false
	}
	return g, true
}

// getChat pages backwards through a room's chat: ?before=SEQ (default: the
// newest) &limit=N (default 50, at most 500), ascending within the page.
func (s *Server) getChat(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("room")
	if !s.authorize(w, r, name) {
		return
	}
	before, err1 := queryUint(r, "before", 0)
	limit, err2 := queryUint(r, "limit", 50)
	if err1 != nil || err2 != nil || limit == 0 || limit > store.MaxHistoryLimit {
		writeError(w, http.StatusBadRequest, "bad_request", "before must be a sequence number and limit 1..500")
		return
	}
	msgs, err := s.store.ChatHistory(r.Context(), name, before, int(limit))
	if err != nil {
		s.log.Error("chat history", "err", err, "room", name)
		writeError(w, http.StatusInternalServerError, "internal", "cannot read chat history")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"room": name, "messages": msgs})
}

// getReports lists reported chat messages for moderators (admin tokens only).
func (s *Server) getReports(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("room")
	g, ok := s.grant(w, r, name)
	if !ok {
		return
	}
	if g.Role != auth.RoleAdmin {
		writeError(w, http.StatusForbidden, "forbidden", "reports need an admin token")
		return
	}
	reports, err := s.store.Reports(r.Context(), name)
	if err != nil {
		s.log.Error("reports", "err", err, "room", name)
		writeError(w, http.StatusInternalServerError, "internal", "cannot read reports")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"room": name, "reports": reports})
}

func queryUint(r *http.Request, key string, def uint64) (uint64, error) {
	v := r.URL.Query().Get(key)
	if v == "" {
		return def, nil
	}
	return strconv.ParseUint(v, 10, 64)
}

func (s *Server) getRoom(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("room")
	if !s.authorize(w, r, name) {
		return
	}
	info, ok := s.rooms.Room(name)
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "no such room is open")
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) getLives(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("room")
	if !s.authorize(w, r, name) {
		return
	}
	lives, err := s.rooms.Lives().Lives(r.Context(), name)
	if err != nil {
		s.log.Error("list lives", "err", err, "room", name)
		writeError(w, http.StatusInternalServerError, "internal", "cannot read live records")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"room": name, "lives": lives})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}
