package server

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/talkrelay/talkrelay/auth"
)

// devTokenTTL is how long a dev token lasts: a working day of trying things.
const devTokenTTL = 12 * time.Hour

// devTokenRequest is POST /dev/token's body; every field is optional but the
// room of a host or viewer.
type devTokenRequest struct {
	Room     string    `json:"room"`
	Identity string    `json:"identity"`
	Name     string    `json:"name"`
	Role     auth.Role `json:"role"`
}

// postDevToken mints a token for anyone who asks: only ever routed in dev
// mode (Config.DevTokens), where the browser app gets its tokens from it.
func (s *Server) postDevToken(w http.ResponseWriter, r *http.Request) {
	var req devTokenRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "the body must be JSON: {room, identity, name, role}")
		return
	}
	if req.Role == "" {
		req.Role = auth.RoleViewer
	}
	switch req.Role {
	case auth.RoleHost, auth.RoleViewer:
		if strings.TrimSpace(req.Room) == "" {
			writeError(w, http.StatusBadRequest, "bad_request", "a host or viewer token needs a room")
			return
		}
	case auth.RoleCaller:
		req.Room = ""
	default:
		writeError(w, http.StatusBadRequest, "bad_request", "role must be host, viewer or caller")
		return
	}
	if req.Identity == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		req.Identity = "guest-" + hex.EncodeToString(b[:])
	}
	if req.Name == "" {
		req.Name = req.Identity
	}
	m, err := auth.NewMinter(s.cfg.APIKey, s.cfg.APISecret)
	if err == nil {
		var tok string
		tok, err = m.Mint(auth.Grant{Identity: req.Identity, Name: req.Name, Room: req.Room, Role: req.Role}, devTokenTTL)
		if err == nil {
			writeJSON(w, http.StatusOK, map[string]any{
				"token": tok, "identity": req.Identity, "name": req.Name, "room": req.Room, "role": req.Role,
			})
			return
		}
	}
	writeError(w, http.StatusBadRequest, "bad_request", err.Error())
}
