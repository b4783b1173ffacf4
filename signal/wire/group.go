package wire

// Group voice rooms (tokens with room_type "group"): every participant may
// speak, up to the room's speaker limit; each receives the active speakers.
// See PROTOCOL.md, "Group voice rooms".

// Client → server message types of group rooms.
const (
	// TypeRaiseHand {raised}: a participant raises (true) or lowers its hand.
	TypeRaiseHand = "raise_hand"
	// TypeMuteParticipant {identity}: the host mutes a speaker's microphone.
	TypeMuteParticipant = "mute_participant"
	// TypeRemoveParticipant {identity}: the host removes a participant
	// (closed with kicked).
	TypeRemoveParticipant = "remove_participant"
)

// Server → client message types of group rooms.
const (
	// TypeActiveSpeakers {speakers}: the speakers everyone hears changed;
	// speakers are identities, loudest first (absent: nobody speaks).
	TypeActiveSpeakers = "active_speakers"
	// TypeHandRaised {identity, raised}: a participant raised or lowered its hand.
	TypeHandRaised = "hand_raised"
)

// Error codes of group rooms.
const (
	// CodeWrongRoomType: the token asks for another type of room than the
	// one of that name already open (fatal).
	CodeWrongRoomType = "wrong_room_type"
	// CodeNoSuchParticipant: mute_participant or remove_participant of an
	// identity that is not in the room (or, for a mute, not speaking).
	CodeNoSuchParticipant = "no_such_participant"
)
