package signal

import (
	"github.com/talkrelay/talkrelay/room"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// dispatchGroup handles the group room messages: raising hands and the
// host's controls. Their effects are broadcast; success has no reply.
func dispatchGroup(s session, m wire.Message) error {
	p, ok := s.(*room.Participant)
	if !ok {
		return wire.Errorf(wire.CodeForbidden, "%s is for participants of group rooms", m.Type)
	}
	switch m.Type {
	case wire.TypeRaiseHand:
		if m.Raised == nil {
			return wire.Errorf(wire.CodeBadMessage, "raise_hand needs \"raised\": true or false")
		}
		return p.RaiseHand(m.Identity, *m.Raised)
	case wire.TypeMuteParticipant:
		if m.Identity == "" {
			return wire.Errorf(wire.CodeBadMessage, "mute_participant needs an \"identity\"")
		}
		return p.MuteParticipant(m.Identity)
	case wire.TypeRemoveParticipant:
		if m.Identity == "" {
			return wire.Errorf(wire.CodeBadMessage, "remove_participant needs an \"identity\"")
		}
		return p.RemoveParticipant(m.Identity)
	}
	return wire.Errorf(wire.CodeUnknownType, "unknown message type %q", m.Type)
}
