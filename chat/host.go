package chat

import (
	"context"
	"time"
)

// handleHost performs a host action; the caller has checked that m is the host.
func (m *Member) handleHost(ctx context.Context, req request) *Error {
	switch req.Type {
	case TypeDelete:
		if req.Seq == 0 {
			return errorf(CodeBadMessage, "delete needs the seq of a message")
		}
		if err := m.hub.cfg.Store.DeleteChat(ctx, m.room.name, req.Seq); err != nil {
			return m.storeError("deleting a message", err)
		}
		m.room.deleted(req.Seq)
		m.hub.moderated(m.room.name, Moderation{Type: TypeDelete, Seq: req.Seq})
	case TypeClear:
		if err := m.room.clear(ctx); err != nil {
			return m.storeError("clearing the chat", err)
		}
		m.hub.moderated(m.room.name, Moderation{Type: TypeClear})
	case TypeSlowMode:
		d, perr := req.seconds(true)
		if perr != nil {
			return perr
		}
		m.room.mod.setSlowMode(d)
		m.room.notify(slowModeFrame(d))
		m.hub.moderated(m.room.name, Moderation{Type: TypeSlowMode, Seconds: int64(d / time.Second)})
	case TypeTimeout, TypeKick, TypeBan:
		if perr := m.checkTarget(req.Identity); perr != nil {
			return perr
		}
		if perr := m.sanction(ctx, req); perr != nil {
			return perr
		}
	}
	m.ack(req.ID)
	return nil
}

// checkTarget refuses a sanction without a target, or against the host itself.
func (m *Member) checkTarget(identity string) *Error {
	if identity == "" {
		return errorf(CodeBadMessage, "missing identity")
	}
	if identity == m.who.Identity {
		return errorf(CodeForbidden, "a host cannot sanction itself")
	}
	for _, t := range m.room.withIdentity(identity) {
		if t.who.Host {
			return errorf(CodeForbidden, "a host cannot be sanctioned")
		}
	}
	return nil
}

// sanction times out, kicks or bans an identity. A timeout only silences: the
// identity keeps watching and every member is told, so clients can show it. A kick
// or ban removes the identity's members from the chat at once and asks the room
// layer, through OnKick, to disconnect them.
func (m *Member) sanction(ctx context.Context, req request) *Error {
	now := m.hub.cfg.Clock()
	var banUntil time.Time // a ban's end (zero: forever)
	switch req.Type {
	case TypeTimeout:
		d, perr := req.seconds(true)
		if perr != nil {
			return perr
		}
		if d <= 0 {
			return errorf(CodeBadMessage, "timeout needs seconds > 0")
		}
		until := now.Add(d).UTC()
		m.room.mod.timeout(req.Identity, until)
		m.room.notify(encode(noticeFrame{Type: TypeTimedOut, Identity: req.Identity, Until: &until}))
		m.hub.moderated(m.room.name, Moderation{Type: TypeTimeout, Identity: req.Identity, Until: until})
		return nil
	case TypeBan:
		d, perr := req.seconds(false)
		if perr != nil {
			return perr
		}
		if d > 0 {
			banUntil = now.Add(d).UTC()
		}
		if err := m.hub.cfg.Store.Ban(ctx, m.room.name, req.Identity, banUntil); err != nil {
			return m.storeError("banning", err)
		}
		m.room.mod.ban(req.Identity, banUntil)
	}
	m.hub.moderated(m.room.name, Moderation{Type: req.Type, Identity: req.Identity, Until: banUntil})
	for _, t := range m.room.withIdentity(req.Identity) {
		t.Leave()
	}
	m.hub.log.Info("chat: host removed a participant", "room", m.room.name,
		"host", m.who.Identity, "identity", req.Identity, "action", req.Type)
	m.hub.kicked(m.room.name, req.Identity)
	return nil
}
