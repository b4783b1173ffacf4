package call

import (
	"context"
	"time"
)

// Modes a call (or a contact request) can take, in increasing order of exposure.
const (
	ModeChat  = "chat"
	ModeVoice = "voice"
	ModeVideo = "video"
)

// Outcomes of a call invitation.
const (
	OutcomeAccepted    = "accepted"    // the callee answered; the call took place
	OutcomeDeclined    = "declined"    // the callee refused it
	OutcomeBusy        = "busy"        // the callee was in another call
	OutcomeNoAnswer    = "no_answer"   // nobody answered before the ring time-out
	OutcomeUnavailable = "unavailable" // the callee was offline or outside their settings
	OutcomeCancelled   = "cancelled"   // the caller gave up before an answer
)

// Reasons an accepted call ends.
const (
	EndHangup   = "hangup"          // one side hung up
	EndDropped  = "dropped"         // a side's connection dropped and did not come back in time
	EndShutdown = "server_shutdown" // the server went away
)

// Reasons an invitation is unavailable.
const (
	ReasonOffline         = "offline"           // no device of the callee is connected
	ReasonOutsideHours    = "outside_hours"     // outside the callee's available hours
	ReasonModeNotAccepted = "mode_not_accepted" // the callee does not take this kind of call
)

// Record is what remains of a call: kept for both parties.
type Record struct {
	ID         string    `json:"id"`
	Caller     string    `json:"caller"`
	CallerName string    `json:"caller_name"`
	Callee     string    `json:"callee"`
	CalleeName string    `json:"callee_name,omitempty"`
	Mode       string    `json:"mode"` // the mode it ended in (a voice call may become video)
	StartedAt  time.Time `json:"started_at"`
	AnsweredAt time.Time `json:"answered_at,omitzero"`
	EndedAt    time.Time `json:"ended_at"`
	// DurationMS is the talk time: from answer to end (0 when never answered).
	DurationMS int64  `json:"duration_ms"`
	Outcome    string `json:"outcome"`
	// Reason says why: the end of an accepted call (EndHangup...), or why an
	// invitation was unavailable (ReasonOffline...).
	Reason string `json:"reason,omitempty"`
	// Match marks a random match (no invitation, no ringing).
	Match bool `json:"match,omitempty"`
}

// Store keeps users' call settings, the identities known to the server and call
// records. store.Store implements it durably; MemoryStore serves tests.
type Store interface {
	// Settings returns identity's settings; ok is false when none were saved.
	Settings(ctx context.Context, identity string) (s Settings, ok bool, err error)
	// PutSettings replaces identity's settings (already validated).
	PutSettings(ctx context.Context, identity string, s Settings) error
	// RememberUser records that identity exists (it connected as a caller).
	RememberUser(ctx context.Context, identity, name string) error
	// UserExists reports whether identity ever connected or saved settings.
	UserExists(ctx context.Context, identity string) (bool, error)
	// SaveCall stores rec in the call history of both its caller and its callee.
	// Saving the same record ID again (a retry) stores it once.
	SaveCall(ctx context.Context, rec Record) error
	// Calls returns identity's call history, newest first, at most limit records.
	Calls(ctx context.Context, identity string, limit int) ([]Record, error)
}
