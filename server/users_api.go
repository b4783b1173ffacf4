package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/call"
	"github.com/talkrelay/talkrelay/store"
)

// maxSettingsBody bounds a PUT of settings; real ones are a few hundred bytes.
const maxSettingsBody = 16 << 10

// userGrant checks the Bearer token for user id's resources: an admin token
// opens any user's, a caller token only its own identity's.
func (s *Server) userGrant(w http.ResponseWriter, r *http.Request, id string) (auth.Grant, bool) {
	g, ok := s.bearer(w, r)
	if !ok {
		return auth.Grant{}, false
	}
	switch {
	case g.Role == auth.RoleAdmin:
	case g.Role == auth.RoleCaller && g.Identity == id:
	case g.Role == auth.RoleCaller:
		writeError(w, http.StatusForbidden, "forbidden", "token is for another user")
		return auth.Grant{}, false
	default:
		writeError(w, http.StatusForbidden, "forbidden", "user resources need a caller or admin token")
		return auth.Grant{}, false
	}
	return g, true
}

// getUserSettings returns a user's call settings; a user who saved none gets
// {} (the defaults: always available, every mode).
func (s *Server) getUserSettings(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := s.userGrant(w, r, id); !ok {
		return
	}
	set, _, err := s.calls.Settings(r.Context(), id)
	if err != nil {
		s.userStoreError(w, err, "cannot read settings", id)
		return
	}
	writeJSON(w, http.StatusOK, set)
}

// putUserSettings replaces a user's call settings with the JSON body, which
// must be valid and hold no unknown fields; it answers with what was saved.
func (s *Server) putUserSettings(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := s.userGrant(w, r, id); !ok {
		return
	}
	set, err := decodeSettings(w, r)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("settings are at most %d bytes", maxSettingsBody))
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "bad_request", "settings must be a JSON object: "+err.Error())
		return
	}
	if err := set.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_settings", err.Error())
		return
	}
	if err := s.calls.PutSettings(r.Context(), id, set); err != nil {
		s.userStoreError(w, err, "cannot save settings", id)
		return
	}
	writeJSON(w, http.StatusOK, set)
}

// decodeSettings reads a request body that must be one JSON object of
// settings, without unknown fields, of at most maxSettingsBody bytes.
func decodeSettings(w http.ResponseWriter, r *http.Request) (call.Settings, error) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSettingsBody))
	dec.DisallowUnknownFields()
	var set *call.Settings // stays nil for "null"
	if err := dec.Decode(&set); err != nil {
		return call.Settings{}, err
	}
	if set == nil {
		return call.Settings{}, errors.New("got null")
	}
	switch err := dec.Decode(&struct{}{}); {
	case err == io.EOF:
		return *set, nil
	case errors.As(err, new(*http.MaxBytesError)):
		return call.Settings{}, err
	default:
		return call.Settings{}, errors.New("unexpected data after the object")
	}
}

// getUserCalls returns a user's call history, newest first: ?limit=N (default
// 50, at most 500).
func (s *Server) getUserCalls(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := s.userGrant(w, r, id); !ok {
		return
	}
	limit, err := queryUint(r, "limit", store.DefaultCallsLimit)
	if err != nil || limit == 0 || limit > store.MaxCallsLimit {
		writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("limit must be 1..%d", store.MaxCallsLimit))
		return
	}
	recs, err := s.calls.Calls(r.Context(), id, int(limit))
	if err != nil {
		s.userStoreError(w, err, "cannot read calls", id)
		return
	}
	if recs == nil {
		recs = []call.Record{} // [], not null
	}
	writeJSON(w, http.StatusOK, recs)
}

// userStoreError answers a failed store call: 400 for an identity the store
// refuses (too long, not UTF-8), 500 otherwise.
func (s *Server) userStoreError(w http.ResponseWriter, err error, msg, id string) {
	if errors.Is(err, store.ErrInvalidName) {
		writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("invalid user id: it must be UTF-8 of at most %d bytes", store.MaxNameLen))
		return
	}
	s.log.Error(msg, "err", err, "user", id)
	writeError(w, http.StatusInternalServerError, "internal", msg)
}
