package whip

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/talkrelay/talkrelay/signal/wire"
)

// writeError answers with the REST API's error shape.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// writeRoomError answers a refusal from the room (a *wire.Error) with its
// HTTP status: the same codes the WebSocket protocol sends, as RFC 9725's
// client expects them.
func writeRoomError(w http.ResponseWriter, err error) {
	var we *wire.Error
	if !errors.As(err, &we) {
		writeError(w, http.StatusInternalServerError, wire.CodeInternal, "internal error")
		return
	}
	status := http.StatusInternalServerError
	switch we.Code {
	case wire.CodeUnauthorized, wire.CodeTokenExpired:
		status = http.StatusUnauthorized
	case wire.CodeForbidden, wire.CodeBanned, wire.CodeWrongRoom, wire.CodeKicked:
		status = http.StatusForbidden
	case wire.CodeNotLive:
		status = http.StatusConflict
		w.Header().Set("Retry-After", retryNotLive)
	case wire.CodeLiveInProgress, wire.CodeNoSession, wire.CodeReplaced:
		status = http.StatusConflict
	case wire.CodeBadSDP, wire.CodeNoUsableCodec, wire.CodeBadCandidate:
		status = http.StatusUnprocessableEntity
	case wire.CodeUnavailable, wire.CodeServerFull:
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", retryUnavailable)
	case wire.CodeRateLimited:
		status = http.StatusTooManyRequests
	}
	writeError(w, status, we.Code, we.Message)
}

// linkHeaders returns one Link header value per ICE server (RFC 9725 §4.4):
// <url>; rel="ice-server", with the TURN credentials when there are some.
func linkHeaders(servers []wire.ICEServer) []string {
	var out []string
	for _, s := range servers {
		for _, u := range s.URLs {
			l := fmt.Sprintf("<%s>; rel=\"ice-server\"", u)
			if s.Username != "" {
				l += fmt.Sprintf("; username=%s; credential=%s; credential-type=\"password\"", quote(s.Username), quote(s.Credential))
			}
			out = append(out, l)
		}
	}
	return out
}

// quote makes an RFC 8288 quoted-string.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
