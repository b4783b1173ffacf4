package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/signal/wire"
)

// PublishOptions tunes how a host's tracks are published.
type PublishOptions struct {
	// OnKeyframeRequest is called, on the sender's RTCP goroutine, when the
	// SFU asks for a keyframe (PLI or FIR) on a track, because a new viewer or
	// a lost packet left it unable to decode until the next one. It must not
	// block for long or call Close.
	OnKeyframeRequest func(track webrtc.TrackLocal)
	// OnRTCP, if set, sees every RTCP packet the SFU sends about a track
	// (receiver reports, transport-wide congestion feedback, REMB estimates of
	// the receiving side's bandwidth in a call), on the same goroutine.
	OnRTCP func(track webrtc.TrackLocal, p rtcp.Packet)
}

// Publish creates the publisher connection with the given tracks as sendonly
// transceivers, offers it to the SFU and returns once the SFU's answer is
// applied; media written to the tracks then flows. A refusal by the SFU (a
// viewer publishing, no usable codec, ...) is returned as a *wire.Error. A
// failed Publish may be retried; a successful one may be repeated only once the
// SFU has closed its publisher (after end_live), to go live again.
func (c *Client) Publish(ctx context.Context, opts PublishOptions, tracks ...webrtc.TrackLocal) ([]*webrtc.RTPSender, error) {
	if len(tracks) == 0 {
		return nil, errors.New("client: publish: no tracks")
	}
	c.pubMu.Lock()
	defer c.pubMu.Unlock()
	if pc := c.pub.conn(); pc != nil {
		// After end_live the SFU closes the publisher; going live again starts a
		// new connection.
		if st := pc.ConnectionState(); st != webrtc.PeerConnectionStateClosed && st != webrtc.PeerConnectionStateFailed {
			return nil, errors.New("client: publish: already published")
		}
		c.pub.reset()
	}

	senders, err := c.negotiatePublisher(ctx, tracks)
	if err != nil {
		c.pub.reset()
		return nil, err
	}
	for _, s := range senders {
		if !c.spawn(func() { c.readSenderRTCP(s, opts) }) {
			return nil, ErrClosed
		}
	}
	return senders, nil
}

func (c *Client) negotiatePublisher(ctx context.Context, tracks []webrtc.TrackLocal) ([]*webrtc.RTPSender, error) {
	pc, err := c.pub.open()
	if err != nil {
		return nil, err
	}
	senders := make([]*webrtc.RTPSender, 0, len(tracks))
	for _, t := range tracks {
		tr, err := pc.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{
			Direction: webrtc.RTPTransceiverDirectionSendonly,
		})
		if err != nil {
			return nil, fmt.Errorf("client: publish %s track %q: %w", t.Kind(), t.ID(), err)
		}
		senders = append(senders, tr.Sender())
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return nil, fmt.Errorf("client: create publisher offer: %w", err)
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		return nil, fmt.Errorf("client: set publisher offer: %w", err)
	}

	// Local candidates are released right after the offer is queued, never
	// before it. The reader applies the answer itself (see dispatch) before
	// routing it here, so the SFU's candidates that follow the answer find a
	// remote description.
	reply, err := c.requestThen(ctx, wire.Message{Type: wire.TypeOffer, SDP: offer.SDP}, c.pub.markSignaled)
	if err != nil {
		var we *wire.Error
		if errors.As(err, &we) {
			return nil, fmt.Errorf("client: publish refused: %w", we)
		}
		return nil, fmt.Errorf("client: publish: %w", err)
	}
	if reply.Type != wire.TypeAnswer {
		return nil, fmt.Errorf("client: publish: unexpected %q reply", reply.Type)
	}
	return senders, nil
}

// readSenderRTCP drains a sender's RTCP, which pion requires for its
// interceptors, and turns PLI and FIR into keyframe requests. It ends when
// the connection closes; a malformed packet is skipped, not fatal.
func (c *Client) readSenderRTCP(s *webrtc.RTPSender, opts PublishOptions) {
	buf := make([]byte, 1500)
	for {
		n, _, err := s.Read(buf)
		if err != nil {
			return
		}
		if opts.OnKeyframeRequest == nil && opts.OnRTCP == nil {
			continue
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			c.log.Debug("bad rtcp from server", "err", err)
			continue
		}
		t := s.Track()
		if t == nil {
			continue
		}
		for _, p := range pkts {
			if opts.OnRTCP != nil {
				opts.OnRTCP(t, p)
			}
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				if opts.OnKeyframeRequest != nil {
					opts.OnKeyframeRequest(t)
				}
			}
		}
	}
}
