package chat

import (
	"context"
	"errors"
	"unicode/utf8"
)

// maxReasonRunes caps a report's reason.
const maxReasonRunes = 200

// Handle processes one message the client sent on its chat channel. Replies (ack,
// error, history pages) go back through the member's Recipient; the error, if any,
// is the one sent to the client (an *Error), or ErrClosed after Leave or Close.
// A rejected message is neither stored nor fanned out and affects nobody else.
func (m *Member) Handle(ctx context.Context, raw []byte) error {
	if m.left.Load() || m.hub.closed.Load() || !m.room.hold() {
		return ErrClosed
	}
	defer m.hub.release(m.room)
	req, perr := decodeRequest(raw)
	if perr == nil {
		perr = m.dispatch(ctx, req)
	}
	if perr == nil {
		return nil
	}
	m.reply(encode(errorFrame{Type: TypeError, ID: req.ID, Error: perr}))
	return perr
}

func (m *Member) dispatch(ctx context.Context, req request) *Error {
	switch req.Type {
	case TypeSend:
		m.hub.met.ChatReceived.Inc()
		perr := m.handleSend(ctx, req)
		if perr != nil {
			m.hub.met.ChatRejected(perr.Code)
		}
		return perr
	case TypeHide:
		if req.Hidden == nil {
			return errorf(CodeBadMessage, "hide needs hidden: true or false")
		}
		m.setHidden(*req.Hidden)
		m.ack(req.ID)
		return nil
	case TypeHistory:
		return m.handleHistory(ctx, req)
	case TypeReport:
		return m.handleReport(ctx, req)
	case TypeDelete, TypeTimeout, TypeKick, TypeBan, TypeClear, TypeSlowMode:
		if !m.who.Host {
			return errorf(CodeForbidden, "only the host may %s", req.Type)
		}
		return m.handleHost(ctx, req)
	default:
		return errorf(CodeUnknownType, "unknown request type %q", req.Type)
	}
}

// ack confirms a request that carried an id; requests without one get no reply.
func (m *Member) ack(id string) {
	if id != "" {
		m.reply(encode(ackFrame{Type: TypeAck, ID: id}))
	}
}

// handleSend validates, moderates, stores and fans out one message; the ack
// follows the store's answer, so an acked message survives a restart.
func (m *Member) handleSend(ctx context.Context, req request) *Error {
	text, perr := validateText(req.Text, m.hub.cfg.MaxTextRunes)
	if perr != nil {
		return perr
	}
	if perr := m.hub.filter.check(text); perr != nil {
		return perr
	}
	t, perr := m.room.mod.admit(m.who, text, m.hub.cfg.Clock())
	if perr != nil {
		return perr
	}
	stored, err := m.room.append(ctx, Message{
		Room: m.room.name, From: m.who.Identity, Name: m.who.Name, Text: text, Kind: KindUser,
	})
	if err != nil {
		m.room.mod.undo(t)
		m.room.log.Error("chat: storing a message failed", "identity", m.who.Identity, "err", err)
		return ErrStoreFailed
	}
	m.hub.messaged(m.room.name, m.who)
	m.reply(encode(ackFrame{Type: TypeAck, ID: req.ID, Seq: stored.Seq, MsgID: stored.ID}))
	return nil
}

// handleHistory answers with one page of older messages. The page is a single
// frame: if the messages asked for do not fit in MaxFrameBytes it holds the newest
// that do, and the client pages on from the first Seq it got.
func (m *Member) handleHistory(ctx context.Context, req request) *Error {
	if perr := m.room.mod.takeRead(m.who.Identity, m.hub.cfg.Clock()); perr != nil {
		return perr
	}
	limit := req.Limit
	if limit <= 0 {
		limit = m.hub.cfg.HistoryOnJoin
	}
	limit = min(limit, maxHistoryPage)
	msgs, err := m.hub.cfg.Store.ChatHistory(ctx, m.room.name, req.Before, limit)
	if err != nil {
		m.room.log.Error("chat: reading history failed", "identity", m.who.Identity, "err", err)
		return errorf(CodeStoreFailed, "history could not be read")
	}
	m.reply(historyFrame(req.ID, msgs, m.hub.cfg.MaxFrameBytes))
	return nil
}

// historyFrame encodes the newest of msgs that fit in maxBytes (at least one).
func historyFrame(id string, msgs []Message, maxBytes int) []byte {
	prefix := messagesPrefix(id)
	encoded := make([][]byte, len(msgs))
	size := len(prefix) + len(messagesSuffix)
	first := len(msgs)
	for i := len(msgs) - 1; i >= 0; i-- {
		js := encode(msgs[i])
		if first < len(msgs) && size+len(js)+1 > maxBytes {
			break
		}
		encoded[i] = js
		size += len(js) + 1
		first = i
	}
	b := make([]byte, 0, size)
	b = append(b, prefix...)
	for i, js := range encoded[first:] {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, js...)
	}
	return append(b, messagesSuffix...)
}

// handleReport files a complaint about one message for the moderators.
func (m *Member) handleReport(ctx context.Context, req request) *Error {
	if req.Seq == 0 {
		return errorf(CodeBadMessage, "report needs the seq of a message")
	}
	if n := utf8.RuneCountInString(req.Reason); n > maxReasonRunes {
		return errorf(CodeTooLong, "reason is %d characters, over the %d-character limit", n, maxReasonRunes)
	}
	now := m.hub.cfg.Clock()
	if perr := m.room.mod.takeReport(m.who.Identity, now); perr != nil {
		return perr
	}
	ok, err := m.room.exists(ctx, req.Seq)
	if err != nil {
		m.room.log.Error("chat: looking up a reported message failed", "seq", req.Seq, "err", err)
		return errorf(CodeStoreFailed, "the report could not be filed")
	}
	if !ok {
		return errorf(CodeNotFound, "no message %d in this chat", req.Seq)
	}
	rep := Report{Room: m.room.name, Reporter: m.who.Identity, Reason: req.Reason, Seq: req.Seq, At: now}
	if err := m.hub.cfg.Store.AddReport(ctx, rep); err != nil {
		m.room.log.Error("chat: storing a report failed", "seq", req.Seq, "err", err)
		return errorf(CodeStoreFailed, "the report could not be filed")
	}
	m.ack(req.ID)
	return nil
}

// storeError turns a store failure into the error the client sees, logging it.
func (m *Member) storeError(what string, err error) *Error {
	if errors.Is(err, ErrNotFound) {
		return errorf(CodeNotFound, "no such message")
	}
	m.room.log.Error("chat: "+what+" failed", "identity", m.who.Identity, "err", err)
	return errorf(CodeStoreFailed, "%s failed", what)
}
