package signal

import (
	"github.com/talkrelay/talkrelay/call"
	"github.com/talkrelay/talkrelay/room"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// session is what a joined connection drives: a participant of a live room
// (*room.Participant) or a caller's device (*call.Device), whose media requests
// go to its side of the current call.
type session interface {
	Offer(id, sdp string) error
	Answer(sdp string) error
	Candidate(t wire.Target, c *wire.Candidate) error
	ICERestart(t wire.Target) error
	SetMuted(kind string, muted bool) error
	EndLive() error
	SetVideoSize(width, height int) error
	Leave()
	Disconnected()
}

var (
	_ session = (*room.Participant)(nil)
	_ session = (*call.Device)(nil)
)

// dispatchCall handles the call.* messages, which only callers send.
func (c *conn) dispatchCall(s session, m wire.Message) error {
	d, ok := s.(*call.Device)
	if !ok {
		return wire.Errorf(wire.CodeForbidden, "call and match messages need a caller token")
	}
	switch m.Type {
	case wire.TypeCallInvite:
		return d.Invite(m.ID, m.Callee, m.Mode)
	case wire.TypeCallAccept:
		return d.Accept(m.ID, m.CallID)
	case wire.TypeCallDecline:
		return d.Decline(m.ID, m.CallID)
	case wire.TypeCallCancel:
		return d.Cancel(m.ID, m.CallID)
	case wire.TypeCallHangup:
		return d.Hangup(m.ID, m.CallID)
	case wire.TypeCallMode:
		return d.SetMode(m.ID, m.CallID, m.Mode)
	case wire.TypeMatchJoin:
		return d.Match(m.ID, m.Profile)
	case wire.TypeMatchLeave:
		return d.Unmatch(m.ID)
	case wire.TypeMatchNext:
		return d.Next(m.ID)
	case wire.TypeMatchBlock:
		return d.Block(m.ID, m.Identity)
	case wire.TypeMatchReport:
		return d.Report(m.ID, m.Identity, m.Reason)
	}
	return wire.Errorf(wire.CodeUnknownType, "unknown message type %q", m.Type)
}
