// Package wire defines the JSON messages of talkrelay's WebSocket signaling protocol.
// It has no dependencies so that servers, the Go client SDK and tools share one
// definition; signal/PROTOCOL.md is its prose description.
package wire

import (
	"encoding/json"
	"fmt"
)

// MaxMessageBytes caps one signaling message. SDP for audio+video with many codecs
// stays well under 16 KiB; the cap leaves room for large candidate-rich offers.
const MaxMessageBytes = 64 << 10

// Message is the envelope of every signaling message in both directions: a type
// and a type-specific body. Fields not used by a type are omitted.
type Message struct {
	Type string `json:"type"`
	// ID, when a client sets it on a request, is echoed on the reply or error so the
	// client can match them.
	ID string `json:"id,omitempty"`

	Token     string     `json:"token,omitempty"`      // join
	Room      string     `json:"room,omitempty"`       // join (optional: must match the token)
	Resume    string     `json:"resume,omitempty"`     // join: the resume token of a session to take back
	ChatAfter uint64     `json:"chat_after,omitempty"` // join: the last chat seq the client holds
	SDP       string     `json:"sdp,omitempty"`        // offer, answer
	Target    Target     `json:"target,omitempty"`     // candidate, ice_restart
	Candidate *Candidate `json:"candidate,omitempty"`  // candidate
	Kind      string     `json:"kind,omitempty"`       // mute, track_muted: "audio" or "video"
	Muted     *bool      `json:"muted,omitempty"`      // mute, track_muted
	Count     *int       `json:"count,omitempty"`      // viewer_count
	Joined    *Joined    `json:"joined,omitempty"`     // joined, resumed
	Live      *Live      `json:"live,omitempty"`       // live_started, live_ended
	Error     *Error     `json:"error,omitempty"`      // error
	Reason    string     `json:"reason,omitempty"`     // server_shutdown, live_interrupted
	// URL, in redirect, is the base URL of the node to join instead.
	URL string `json:"url,omitempty"`
	// Nodes, in nodes, are base URLs of other nodes of the cluster.
	Nodes []string `json:"nodes,omitempty"`

	Callee   string        `json:"callee,omitempty"`   // call.invite: the identity called
	Mode     string        `json:"mode,omitempty"`     // call.invite, call.mode: "voice" or "video"
	CallID   string        `json:"call_id,omitempty"`  // call.accept, call.decline, call.cancel, call.hangup, call.mode
	Call     *Call         `json:"call,omitempty"`     // call.* events
	Profile  *MatchProfile `json:"profile,omitempty"`  // match.join
	Identity string        `json:"identity,omitempty"` // track_muted in a call: whose track

	// Speakers, in active_speakers, are a group room's active speakers, loudest first.
	Speakers []string `json:"speakers,omitempty"`
	Raised   *bool    `json:"raised,omitempty"` // raise_hand, hand_raised

	// RIDs, in layers, are the simulcast layers some viewer watches (absent: none).
	RIDs   []string `json:"rids,omitempty"`
	Width  int      `json:"width,omitempty"`  // video_size
	Height int      `json:"height,omitempty"` // video_size
}

// Client → server message types.
const (
	TypeJoin      = "join"      // {token}: first message on a connection
	TypeOffer     = "offer"     // {sdp}: the host's publisher offer
	TypeAnswer    = "answer"    // {sdp}: answer to the server's subscriber offer
	TypeCandidate = "candidate" // {target, candidate}: trickle ICE, both directions
	TypeMute      = "mute"      // {kind, muted}: host turns mic or camera off/on
	TypeEndLive   = "end_live"  // host ends the live
	TypeLeave     = "leave"     // participant leaves; the server closes the connection
	TypePing      = "ping"      // keepalive; answered with pong
	// TypeVideoSize {width, height}: how large the client shows video; simulcast
	// layers larger than that are not sent to it. 0 lifts the limit.
	TypeVideoSize = "video_size"
	// TypeICERestart {target}: the client's connection lost its path (its network
	// changed): the server re-offers the subscriber with new ICE credentials.
	TypeICERestart = "ice_restart"

	// Calls (callers only). Each is answered, echoing id, by the call event
	// that shows its effect or by an error.
	TypeCallInvite  = "call.invite"  // {callee, mode}: ring the callee → call.calling or call.ended
	TypeCallAccept  = "call.accept"  // {call_id}: answer a ringing call → call.accepted
	TypeCallDecline = "call.decline" // {call_id}: refuse a ringing call → call.ended
	TypeCallCancel  = "call.cancel"  // {call_id}: give up an unanswered call → call.ended
	TypeCallHangup  = "call.hangup"  // {call_id}: end the call for both → call.ended
	TypeCallMode    = "call.mode"    // {call_id, mode}: switch voice ↔ video → call.mode

	// Random matching (callers only).
	TypeMatchJoin   = "match.join"   // {profile}: wait to be paired → match.waiting, or call.accepted at once
	TypeMatchLeave  = "match.leave"  // stop waiting → match.left
	TypeMatchNext   = "match.next"   // end the current match; both wait again → call.ended, match.waiting
	TypeMatchBlock  = "match.block"  // {identity}: never be paired with them again (ends a match with them)
	TypeMatchReport = "match.report" // {identity, reason}: report them for review → match.reported
)

// Server → client message types.
const (
	TypeJoined         = "joined"          // {joined}: reply to join
	TypeResumed        = "resumed"         // {joined}: reply to a join that took back its session (join.resume)
	TypePong           = "pong"            // reply to ping
	TypeViewerCount    = "viewer_count"    // {count}: viewers (host excluded), at most once a second
	TypeTrackMuted     = "track_muted"     // {kind, muted}: the host's mic or camera state
	TypeLiveStarted    = "live_started"    // {live}: the host went live
	TypeLiveEnded      = "live_ended"      // {live}: the host ended the live (or it was ended)
	TypeError          = "error"           // {error}
	TypeServerShutdown = "server_shutdown" // {reason}: the server is going away
	// TypeRedirect ({url}) answers a join on a node with no capacity left: the
	// client joins the node at url instead. The connection closes after it.
	TypeRedirect = "redirect"
	// TypeLayers {kind, rids}: to a simulcast publisher, the layers viewers
	// watch, debounced (rids absent: none); it may pause the others' encoders.
	TypeLayers           = "layers"
	TypeMatchWaiting     = "match.waiting"     // waiting to be paired; the pair arrives as call.accepted
	TypeMatchLeft        = "match.left"        // no longer waiting
	TypeMatchReported    = "match.reported"    // the report is stored
	TypeCallCalling      = "call.calling"      // {call}: the callee's devices are ringing
	TypeCallRinging      = "call.ringing"      // {call}: someone calls this user (every device)
	TypeCallAccepted     = "call.accepted"     // {call}: the call is answered; set up media
	TypeCallEnded        = "call.ended"        // {call}: the call is over (or no longer this device's)
	TypeCallReconnecting = "call.reconnecting" // {call}: the other side dropped; waiting for it
	TypeCallResumed      = "call.resumed"      // {call}: both sides are back; (re)publish on a resumed device
	// The server also sends TypeCallMode ({call}) to both sides when the mode changes,
	// TypeOffer (subscriber offers), TypeAnswer (publisher
	// answers) and TypeCandidate.
)

// Target names which of a participant's two peer connections a message is about.
type Target string

// The two peer connections a participant may have.
const (
	// TargetPublisher is the connection the client offers and sends media on (hosts only).
	TargetPublisher Target = "publisher"
	// TargetSubscriber is the connection the server offers and sends media on.
	TargetSubscriber Target = "subscriber"
)

// Candidate is an ICE candidate in the browser's RTCIceCandidateInit shape.
type Candidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// Joined describes the room to a participant that just joined.
type Joined struct {
	Room          string      `json:"room"`
	Identity      string      `json:"identity"`
	Name          string      `json:"name"`
	Role          string      `json:"role"`
	RoomType      string      `json:"room_type,omitempty"` // "group" for group voice rooms; absent for lives
	ParticipantID string      `json:"participant_id"`
	ViewerCount   int         `json:"viewer_count"`
	Live          *Live       `json:"live,omitempty"`
	Muted         MuteState   `json:"muted"`
	ICEServers    []ICEServer `json:"ice_servers,omitempty"`
	// ResumeToken lets a client whose connection drops take this session back
	// (join.resume) within ResumeWithinMS; each joined or resumed brings a new one.
	ResumeToken    string `json:"resume_token,omitempty"`
	ResumeWithinMS int64  `json:"resume_within_ms,omitempty"`
	// Nodes, in a cluster, are base URLs of other nodes this client may join
	// (same token) if this node becomes unreachable; see TypeNodes.
	Nodes []string `json:"nodes,omitempty"`
}

// MuteState tells which of the host's tracks are muted.
type MuteState struct {
	Audio bool `json:"audio"`
	Video bool `json:"video"`
}

// Live describes one live broadcast of a room.
type Live struct {
	ID          string `json:"id"`
	State       string `json:"state"` // LiveOn, LiveInterrupted or LiveEnded
	Host        string `json:"host,omitempty"`
	HostName    string `json:"host_name,omitempty"`
	StartedAt   int64  `json:"started_at_ms,omitempty"` // Unix milliseconds
	EndedAt     int64  `json:"ended_at_ms,omitempty"`
	DurationMS  int64  `json:"duration_ms,omitempty"`
	PeakViewers int    `json:"peak_viewers,omitempty"`
	EndReason   string `json:"end_reason,omitempty"`
}

// Live states.
const (
	LiveOn    = "live"
	LiveEnded = "ended"
)

// Reasons a live ends.
const (
	EndHostEnded = "host_ended" // the host pressed end
	EndHostLeft  = "host_left"  // the host left without ending, or dropped and did not come back
	EndShutdown  = "server_shutdown"
)

// ICEServer is a STUN or TURN server the client may use.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// Call describes a 1:1 call.
type Call struct {
	ID         string `json:"id"`
	Caller     string `json:"caller"`
	CallerName string `json:"caller_name,omitempty"`
	Callee     string `json:"callee"`
	CalleeName string `json:"callee_name,omitempty"`
	Mode       string `json:"mode"`
	State      string `json:"state"`             // CallRinging, CallActive or CallEnded
	Outcome    string `json:"outcome,omitempty"` // once decided: accepted, declined, busy, no_answer, unavailable, cancelled
	// Reason details the outcome or the end: offline, outside_hours,
	// mode_not_accepted, hangup, dropped, answered_elsewhere, server_shutdown.
	Reason     string `json:"reason,omitempty"`
	StartedAt  int64  `json:"started_at_ms,omitempty"` // Unix milliseconds
	AnsweredAt int64  `json:"answered_at_ms,omitempty"`
	EndedAt    int64  `json:"ended_at_ms,omitempty"`
	DurationMS int64  `json:"duration_ms,omitempty"` // talk time, answer to end
	Match      bool   `json:"match,omitempty"`       // a random match, not an invitation
}

// MatchProfile is what a user declares on asking to be matched: attributes
// (gender, language, country), interests, and what it accepts in a partner;
// acceptance must hold both ways. Preferences widen the longer the user waits.
type MatchProfile struct {
	Attrs     map[string]string `json:"attrs,omitempty"`
	Interests []string          `json:"interests,omitempty"`
	Want      struct {
		Attrs          map[string][]string `json:"attrs,omitempty"`
		CommonInterest bool                `json:"common_interest,omitempty"`
	} `json:"want"`
}

// Call states.
const (
	CallRinging = "ringing"
	CallActive  = "active"
	CallEnded   = "ended"
)

// Error is a failed request. Fatal errors are followed by the server closing the
// connection; others leave the session as it was.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Fatal   bool   `json:"fatal,omitempty"`
}

// Error codes.
const (
	CodeBadMessage       = "bad_message"       // not JSON, or fields of the wrong shape
	CodeUnknownType      = "unknown_type"      // a type this server does not know
	CodeTooLarge         = "message_too_large" // over MaxMessageBytes (fatal: the frame is dropped with the connection)
	CodeNotJoined        = "not_joined"        // a request before a successful join
	CodeAlreadyJoined    = "already_joined"    // a second join on one connection
	CodeUnauthorized     = "unauthorized"      // missing, malformed or badly signed token (fatal)
	CodeTokenExpired     = "token_expired"     // (fatal)
	CodeWrongRoom        = "wrong_room"        // token for another room (fatal)
	CodeForbidden        = "forbidden"         // the role may not do this (e.g. a viewer publishing)
	CodeLiveInProgress   = "live_in_progress"  // another host runs this room's live (fatal)
	CodeBadSDP           = "bad_sdp"           // SDP that does not parse or does not fit the state
	CodeNoUsableCodec    = "no_usable_codec"   // an offer with no Opus, VP8 or H.264
	CodeBadCandidate     = "bad_candidate"     // a candidate that does not parse or has no connection
	CodeNoSession        = "no_session"        // candidate or answer for a connection that does not exist
	CodeHandshakeTimeout = "handshake_timeout" // no join in time (fatal)
	CodeIdleTimeout      = "idle_timeout"      // nothing received for too long (fatal)
	CodeReplaced         = "replaced"          // the same identity joined again elsewhere (fatal)
	CodeSlowConsumer     = "slow_consumer"     // the client did not read its messages (fatal)
	CodeNotLive          = "not_live"          // end_live with no live running
	CodeUnavailable      = "unavailable"       // the server is shutting down or full (fatal)
	CodeBanned           = "banned"            // the host banned this identity from the room (fatal)
	CodeServerFull       = "server_full"       // the room or the server holds as many as it may (fatal)
	CodeRateLimited      = "rate_limited"      // too many messages: this one was dropped
	CodeKicked           = "kicked"            // the host removed this participant (fatal)
	CodeInvalidCallee    = "invalid_callee"    // calling yourself, or no callee named
	CodeUnknownUser      = "unknown_user"      // the callee has never used this server
	CodeNoSuchCall       = "no_such_call"      // no such call, or it was cancelled or has ended
	CodeAlreadyAnswered  = "already_answered"  // another device (or this one) answered first
	CodeInCall           = "in_call"           // this user is already in a call
	CodeInternal         = "internal"
)

// Error makes *Error usable as a Go error, so room operations can return one and
// the signaling layer can send it as it is.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Bool returns a pointer to b, for the optional boolean fields.
func Bool(b bool) *bool { return &b }

// Int returns a pointer to n, for the optional integer fields.
func Int(n int) *int { return &n }

// Decode parses one client message, rejecting unknown fields' wrong types but not
// unknown fields (clients may be newer than the server).
func Decode(b []byte) (Message, error) {
	var m Message
	err := json.Unmarshal(b, &m)
	return m, err
}
