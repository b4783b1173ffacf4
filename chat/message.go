package chat

import (
	"context"
	"time"
)

// Message kinds.
const (
	KindUser   = "user"   // typed by a participant
	KindSystem = "system" // written by the server (live started, live ended)
)

// Message is one stored chat message.
type Message struct {
	Room string `json:"room"`
	// Seq is the message's place in its room: 1, 2, 3, ... assigned by the Store.
	Seq  uint64    `json:"seq"`
	ID   string    `json:"id"`
	From string    `json:"from"` // sender identity; empty for system messages
	Name string    `json:"name"` // sender display name at the time of sending
	Text string    `json:"text"`
	Kind string    `json:"kind"` // KindUser or KindSystem
	At   time.Time `json:"at"`
}

// Report is a participant's complaint about one message, kept for moderators.
type Report struct {
	Room     string    `json:"room"`
	Reporter string    `json:"reporter"`
	Reason   string    `json:"reason"`
	Seq      uint64    `json:"seq"`
	At       time.Time `json:"at"`
}

// Participant is who a chat member is: the identity and role come from the
// participant's access token, so the hub trusts them.
type Participant struct {
	Identity string
	Name     string
	Host     bool
}

// Store keeps messages, reports and bans durably. The hub serializes AppendChat and
// ClearChat per room, so an implementation may rely on at most one of them being in
// flight per room from one hub (several hubs in a cluster still need its own care).
type Store interface {
	// AppendChat assigns the room's next contiguous Seq (1, 2, 3, ...), the ID if
	// empty and At if zero, and returns only once the message is stored.
	AppendChat(ctx context.Context, m Message) (Message, error)
	// ChatHistory returns up to limit messages with Seq < beforeSeq (0 = from the
	// newest), the newest ones, in ascending Seq order; deleted messages are skipped.
	ChatHistory(ctx context.Context, room string, beforeSeq uint64, limit int) ([]Message, error)
	// ChatSince returns up to limit messages with Seq > afterSeq, ascending, deleted skipped.
	ChatSince(ctx context.Context, room string, afterSeq uint64, limit int) ([]Message, error)
	// DeleteChat hides one message from history. For a seq that does not exist or is
	// already deleted it returns an error matching ErrNotFound.
	DeleteChat(ctx context.Context, room string, seq uint64) error
	// ClearChat deletes every message of the room stored so far; Seq numbering goes on.
	ClearChat(ctx context.Context, room string) error
	AddReport(ctx context.Context, r Report) error
	// Ban bars identity from the room until the given time; a zero until is forever.
	Ban(ctx context.Context, room, identity string, until time.Time) error
	// Banned reports whether identity is barred from the room now.
	Banned(ctx context.Context, room, identity string) (bool, error)
}

// Recipient is one participant's chat channel: a reliable, ordered WebRTC data
// channel sending text messages. The hub calls Send for one Recipient from one
// goroutine at a time and never modifies b afterwards (the same b goes to many
// recipients, so Send must not modify it either).
type Recipient interface {
	// Send queues b (one JSON text message) for the participant. It must not block
	// for long: queue and return.
	Send(b []byte) error
	// Buffered reports the bytes queued but not yet sent. Above Config.HighWater the
	// hub holds the recipient back instead of piling more data on it.
	Buffered() uint64
}
