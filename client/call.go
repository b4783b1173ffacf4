package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/signal/wire"
)

// Calls: a client joined with a caller token is one of its user's devices. It
// is rung (call.ringing on Events), places calls with Invite and, once a call
// is answered (call.accepted), publishes with Publish and receives the other
// side on its subscriber connection as in a room. When the call ends the SDK
// closes both connections so the next call starts fresh.

// Invite rings callee for a call in mode ("voice" or "video"). The call comes
// back ringing (its outcome follows on Events: call.accepted or call.ended) or
// already ended (busy, unavailable).
func (c *Client) Invite(ctx context.Context, callee, mode string) (wire.Call, error) {
	return c.callRequest(ctx, wire.Message{Type: wire.TypeCallInvite, Callee: callee, Mode: mode})
}

// Accept answers a ringing call on this device. The SFU's subscriber offer
// follows; publish this side's tracks with Publish.
func (c *Client) Accept(ctx context.Context, callID string) (wire.Call, error) {
	return c.callRequest(ctx, wire.Message{Type: wire.TypeCallAccept, CallID: callID})
}

// Decline refuses a ringing call (on every device of this user).
func (c *Client) Decline(ctx context.Context, callID string) (wire.Call, error) {
	return c.callRequest(ctx, wire.Message{Type: wire.TypeCallDecline, CallID: callID})
}

// Cancel gives up a call this device placed before it is answered.
func (c *Client) Cancel(ctx context.Context, callID string) (wire.Call, error) {
	return c.callRequest(ctx, wire.Message{Type: wire.TypeCallCancel, CallID: callID})
}

// Hangup ends the call for both sides.
func (c *Client) Hangup(ctx context.Context, callID string) (wire.Call, error) {
	return c.callRequest(ctx, wire.Message{Type: wire.TypeCallHangup, CallID: callID})
}

// SetCallMode switches an answered call between "voice" and "video"; after a
// switch to video, add a video track with AddTracks.
func (c *Client) SetCallMode(ctx context.Context, callID, mode string) (wire.Call, error) {
	return c.callRequest(ctx, wire.Message{Type: wire.TypeCallMode, CallID: callID, Mode: mode})
}

func (c *Client) callRequest(ctx context.Context, m wire.Message) (wire.Call, error) {
	reply, err := c.requestThen(ctx, m, nil)
	if err != nil {
		var we *wire.Error
		if errors.As(err, &we) {
			return wire.Call{}, fmt.Errorf("client: %s refused: %w", m.Type, we)
		}
		return wire.Call{}, fmt.Errorf("client: %s: %w", m.Type, err)
	}
	if reply.Call == nil {
		return wire.Call{}, fmt.Errorf("client: %s: %q reply without a call", m.Type, reply.Type)
	}
	return *reply.Call, nil
}

// onCallEvent keeps the SDK's connections in step with the calls: a call that
// ends takes its connections with it (the SFU closed its side), so the next
// call negotiates new ones. It runs on the reader, before later offers.
func (c *Client) onCallEvent(m wire.Message) {
	if m.Call == nil {
		return
	}
	c.mu.Lock()
	switch m.Type {
	case wire.TypeCallAccepted, wire.TypeCallResumed:
		c.activeCall = m.Call.ID
		c.mu.Unlock()
		return
	case wire.TypeCallEnded:
		if c.activeCall != m.Call.ID {
			c.mu.Unlock()
			return
		}
		c.activeCall = ""
	default:
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	// Not under pubMu: a Publish holding it waits for this reader to deliver its answer.
	c.pub.reset()
	c.sub.reset()
}

// AddTracks adds tracks to a published connection and renegotiates it: a voice
// call turning into a video call adds the camera this way. Like Publish, it
// returns once the SFU's answer is applied.
func (c *Client) AddTracks(ctx context.Context, opts PublishOptions, tracks ...webrtc.TrackLocal) ([]*webrtc.RTPSender, error) {
	c.pubMu.Lock()
	defer c.pubMu.Unlock()
	pc := c.pub.conn()
	if pc == nil {
		return nil, errors.New("client: add tracks: nothing published yet; use Publish")
	}
	senders := make([]*webrtc.RTPSender, 0, len(tracks))
	for _, t := range tracks {
		tr, err := pc.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			return nil, fmt.Errorf("client: add %s track %q: %w", t.Kind(), t.ID(), err)
		}
		senders = append(senders, tr.Sender())
	}
	offer, err := pc.CreateOffer(nil)
	if err == nil {
		err = pc.SetLocalDescription(offer)
	}
	if err != nil {
		return nil, fmt.Errorf("client: renegotiate publisher: %w", err)
	}
	reply, err := c.requestThen(ctx, wire.Message{Type: wire.TypeOffer, SDP: offer.SDP}, nil)
	if err != nil {
		return nil, fmt.Errorf("client: add tracks: %w", err)
	}
	if reply.Type != wire.TypeAnswer {
		return nil, fmt.Errorf("client: add tracks: unexpected %q reply", reply.Type)
	}
	for _, s := range senders {
		if !c.spawn(func() { c.readSenderRTCP(s, opts) }) {
			return nil, ErrClosed
		}
	}
	return senders, nil
}
