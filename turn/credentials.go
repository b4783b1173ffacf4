package turn

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // the TURN REST API convention fixes HMAC-SHA1
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	pturn "github.com/pion/turn/v5"
)

// Credentials returns short-lived TURN credentials for identity that admit new
// allocations until expires, by the TURN REST API convention
// (draft-uberti-behave-turn-rest): the username is "<expiry in Unix
// seconds>:<identity>" and the password base64(HMAC-SHA1(secret, username)).
// Anyone holding secret can mint them; nobody holding them can find secret.
func Credentials(secret, identity string, expires time.Time) (username, password string) {
	username = strconv.FormatInt(expires.Unix(), 10) + ":" + identity
	return username, sign(secret, username)
}

func sign(secret, username string) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// parseUsername splits a REST API username into its expiry and identity.
func parseUsername(username string) (expires int64, identity string, ok bool) {
	exp, identity, ok := strings.Cut(username, ":")
	if !ok || identity == "" {
		return 0, "", false
	}
	expires, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return 0, "", false
	}
	return expires, identity, true
}

// authenticate is the server's AuthHandler. It gives pion the long-term key of
// a well-formed username, and pion checks the request's MESSAGE-INTEGRITY
// with it: a wrong password fails there (401).
//
// Expiry gates new allocations only. An allocation made in time lives as long
// as its client refreshes it (Refresh, CreatePermission and ChannelBind still
// need the right password), so a viewer watching past its credentials' expiry
// keeps its relay. The user ID pion files allocations under, and the quota
// counts by, is the identity.
func (s *Server) authenticate(ra *pturn.RequestAttributes) (userID string, key []byte, ok bool) {
	expires, identity, ok := parseUsername(ra.Username)
	if !ok {
		s.log.Debug("turn: malformed username", "username", ra.Username, "from", ra.SrcAddr)
		return "", nil, false
	}
	if ra.Method == methodAllocate && time.Now().Unix() > expires {
		s.log.Debug("turn: expired credentials", "username", ra.Username, "from", ra.SrcAddr)
		return "", nil, false
	}
	return identity, pturn.GenerateAuthKey(ra.Username, ra.Realm, sign(s.cfg.Secret, ra.Username)), true
}
