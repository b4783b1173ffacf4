package server

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/talkrelay/talkrelay/auth"
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
	return mux
}

// authorize checks the Bearer token: an admin token opens any room, another
// token only its own.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, roomName string) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		writeError(w, http.StatusUnauthorized, "unauthorized", "Authorization: Bearer <token> required")
		return false
	}
	g, err := s.verify.Verify(strings.TrimSpace(tok))
	if err != nil {
		writeError(w, http.StatusUnauthorized, "unauthorized", err.Error())
		return false
	}
	if g.Role != auth.RoleAdmin && g.Room != roomName {
		writeError(w, http.StatusForbidden, "forbidden", "token is for another room")
		return false
	}
	return true
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
