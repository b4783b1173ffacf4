package chat

import (
	"fmt"
	"time"
)

// Error codes sent to clients in {"type":"error","error":{"code":...}} and carried
// by *Error. PROTOCOL.md describes when each is sent.
const (
	CodeBadMessage  = "bad_message"  // malformed JSON, wrong field types, missing fields
	CodeUnknownType = "unknown_type" // a request type the server does not know
	CodeEmpty       = "empty"        // text is empty or only white space
	CodeTooLong     = "too_long"     // text over the rune limit (or a frame over the byte limit)
	CodeInvalidUTF8 = "invalid_utf8" // text is not valid UTF-8 (or holds a lone surrogate escape)
	CodeRateLimited = "rate_limited" // the identity's token bucket is empty
	CodeSlowMode    = "slow_mode"    // the host's slow mode: too soon after this identity's last message
	CodeDuplicate   = "duplicate"    // the same text from the same identity within the duplicate window
	CodeBlockedWord = "blocked_word" // text contains a word on the configured block list
	CodeTimedOut    = "timed_out"    // the host timed this identity out
	CodeBanned      = "banned"       // the identity is banned from the room's chat
	CodeForbidden   = "forbidden"    // a viewer attempted a host action (or a host targeted a host)
	CodeNotFound    = "not_found"    // delete/report of a seq that does not exist (or was deleted)
	CodeStoreFailed = "store_failed" // the store did not take the operation; nothing was fanned out
	CodeClosed      = "closed"       // the member left or the hub closed; never sent to clients
)

// Error is a protocol error: the code a client can act on, a human-readable message,
// and for rate_limited, slow_mode and timed_out the time after which a retry can succeed.
// Compare with errors.Is against the Err* values, which match by code.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// RetryAfterMS is how long to wait before sending again, in milliseconds.
	RetryAfterMS int64 `json:"retry_after_ms,omitempty"`
}

// Error implements error.
func (e *Error) Error() string { return "chat: " + e.Code + ": " + e.Message }

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, ErrNotFound) holds for any not_found error, whatever its message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Errors to match with errors.Is. Store implementations return an error matching
// ErrNotFound from DeleteChat for a seq that does not exist or is already deleted.
var (
	ErrNotFound    = &Error{Code: CodeNotFound, Message: "no such message"}
	ErrBanned      = &Error{Code: CodeBanned, Message: "you are banned from this chat"}
	ErrClosed      = &Error{Code: CodeClosed, Message: "the chat member has left or the hub is closed"}
	ErrForbidden   = &Error{Code: CodeForbidden, Message: "only the host may do this"}
	ErrStoreFailed = &Error{Code: CodeStoreFailed, Message: "the message could not be stored"}
)

// errorf returns a new *Error with a formatted message.
func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// retryError is an *Error that tells the client how long to wait.
func retryError(code string, wait time.Duration, format string, args ...any) *Error {
	e := errorf(code, format, args...)
	ms := wait.Milliseconds()
	if wait > 0 && ms == 0 {
		ms = 1
	}
	e.RetryAfterMS = ms
	return e
}
