package client

import (
	"fmt"

	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/media/codec"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// Group voice rooms: a client joined with a token for a group room
// (room_type "group") speaks by publishing one audio track with Publish, as
// long as the room has a speaker place free (else Publish fails with
// forbidden), and receives one audio track per other speaker (stream id:
// the speaker's identity), of which only the active speakers carry packets.
// Each audio packet sent should carry its loudness in the RFC 6464 audio
// level header extension, under AudioLevelExtensionID: browsers do so by
// themselves. Events brings active_speakers, hand_raised and track_muted.

// RaiseHand raises (true) or lowers (false) this participant's hand; the
// room hears it as hand_raised. Errors arrive on Events.
func (c *Client) RaiseHand(raised bool) error {
	return c.groupRequest(wire.Message{Type: wire.TypeRaiseHand, Raised: wire.Bool(raised)})
}

// LowerHand is the host lowering identity's hand.
func (c *Client) LowerHand(identity string) error {
	return c.groupRequest(wire.Message{Type: wire.TypeRaiseHand, Identity: identity, Raised: wire.Bool(false)})
}

// MuteParticipant is the host muting a speaker: everyone, the speaker
// included, receives track_muted. Errors arrive on Events.
func (c *Client) MuteParticipant(identity string) error {
	return c.groupRequest(wire.Message{Type: wire.TypeMuteParticipant, Identity: identity})
}

// RemoveParticipant is the host removing identity from the room: its
// connection closes with kicked. Errors arrive on Events.
func (c *Client) RemoveParticipant(identity string) error {
	return c.groupRequest(wire.Message{Type: wire.TypeRemoveParticipant, Identity: identity})
}

func (c *Client) groupRequest(m wire.Message) error {
	if err := c.Send(m); err != nil {
		return fmt.Errorf("client: %s: %w", m.Type, err)
	}
	return nil
}

// AudioLevelExtensionID returns the id the publisher connection negotiated
// for the audio level header extension on s, or 0 if none: a sender of
// RTP packets (rather than a browser) sets it on each audio packet, with
// rtp.Header.SetExtension(id, []byte{level}), level in -dBov (0 loudest,
// 127 silence), its top bit the voice-activity flag.
func AudioLevelExtensionID(s *webrtc.RTPSender) uint8 {
	for _, x := range s.GetParameters().HeaderExtensions {
		if x.URI == codec.AudioLevelURI && x.ID > 0 && x.ID < 256 {
			return uint8(x.ID)
		}
	}
	return 0
}
