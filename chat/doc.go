// Package chat is a live room's text chat: the message model, validation and
// moderation, history, and the per-room fan-out hub that delivers messages to every
// participant's data channel.
//
// It is transport-agnostic: it never imports pion or NATS. The wiring adapts a
// WebRTC data channel to Recipient and the durable store to Store; MemoryStore
// serves tests and single-process use. PROTOCOL.md describes the JSON messages.
//
// Why it is shaped this way: one room may hold 10,000 viewers, and one slow viewer
// must never slow the others or the sender. So a room keeps one shared ring of
// recently stored messages, each serialized once, and every member holds only a
// cursor into it (no per-member copy of the stream). A single flusher goroutine per
// room walks the members and hands each the same frame bytes; a member whose data
// channel is backed up is skipped (the hub never calls Send on it) and, once it lags
// more than QueueLimit messages, its oldest are dropped and it is told of the gap.
package chat
