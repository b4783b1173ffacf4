package store

import (
	"encoding/base64"
	"errors"
	"fmt"
	"unicode/utf8"
)

// MaxNameLen is the longest room name or identity the store accepts, in bytes.
// It bounds subjects and keys well below NATS's 4 KiB control-line limit even
// after base64 encoding (a ban key holds a room and an identity).
const MaxNameLen = 512

// ErrInvalidName is returned for an empty, over-long or non-UTF-8 room name or identity,
// so callers can tell a bad request from a storage failure.
var ErrInvalidName = errors.New("store: invalid name")

// ErrNotFound is returned when the thing asked for (a chat message to delete)
// does not exist, or no longer does.
var ErrNotFound = errors.New("store: not found")

// Subject and key prefixes. Everything the store writes is under "talkrelay."
// so an external NATS shared with other applications stays tidy.
const (
	chatStream   = "TALKRELAY_CHAT"
	chatPrefix   = "talkrelay.chat."
	reportStream = "TALKRELAY_REPORTS"
	reportPrefix = "talkrelay.report."
	liveStream   = "TALKRELAY_LIVES"
	livePrefix   = "talkrelay.live."
	banBucket    = "talkrelay_bans"
	callStream   = "TALKRELAY_CALLS"
	callPrefix   = "talkrelay.call."
	userBucket   = "talkrelay_users"
)

// token encodes an arbitrary name as one subject token or key segment.
// Unpadded base64url uses only [A-Za-z0-9_-], none of which is special in a NATS
// subject ('.', '*', '>', whitespace) or forbidden in a KV key.
func token(kind, name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: empty %s", ErrInvalidName, kind)
	}
	if len(name) > MaxNameLen {
		return "", fmt.Errorf("%w: %s of %d bytes (at most %d)", ErrInvalidName, kind, len(name), MaxNameLen)
	}
	// Names come from JSON (tokens, messages) and go back into JSON records,
	// which would silently replace invalid UTF-8; refuse it instead.
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidName, kind)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(name)), nil
}

// roomToken encodes a room name for use in subjects and keys.
func roomToken(room string) (string, error) { return token("room", room) }
