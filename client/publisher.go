package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/pion/interceptor"
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
	groups := make([][]webrtc.TrackLocal, len(tracks))
	for i, t := range tracks {
		groups[i] = []webrtc.TrackLocal{t}
	}
	return c.publishGroups(ctx, opts, groups)
}

// PublishSimulcast is Publish with one video track sent as simulcast layers:
// layers are the same video at different sizes and bitrates, lowest first,
// each made with webrtc.WithRTPStreamID (its RID, e.g. "q", "h", "f"); others
// (audio) are published beside it. The SFU sends each viewer one layer and
// tells this client, with layers messages, which layers anyone watches.
func (c *Client) PublishSimulcast(ctx context.Context, opts PublishOptions, layers []webrtc.TrackLocal, others ...webrtc.TrackLocal) ([]*webrtc.RTPSender, error) {
	if len(layers) == 0 {
		return nil, errors.New("client: publish simulcast: no layers")
	}
	for _, l := range layers {
		if l.RID() == "" {
			return nil, fmt.Errorf("client: publish simulcast: layer %q has no RID", l.ID())
		}
	}
	groups := [][]webrtc.TrackLocal{layers}
	for _, t := range others {
		groups = append(groups, []webrtc.TrackLocal{t})
	}
	return c.publishGroups(ctx, opts, groups)
}

// publishGroups publishes one sendonly transceiver per group, the group's
// tracks being its encodings.
func (c *Client) publishGroups(ctx context.Context, opts PublishOptions, groups [][]webrtc.TrackLocal) ([]*webrtc.RTPSender, error) {
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

	senders, err := c.negotiatePublisher(ctx, groups)
	if err != nil {
		c.pub.reset()
		return nil, err
	}
	for i, s := range senders {
		if !c.readEncodingsRTCP(s, groups[i], opts) {
			return nil, ErrClosed
		}
	}
	return senders, nil
}

func (c *Client) negotiatePublisher(ctx context.Context, groups [][]webrtc.TrackLocal) ([]*webrtc.RTPSender, error) {
	pc, err := c.pub.open()
	if err != nil {
		return nil, err
	}
	senders := make([]*webrtc.RTPSender, 0, len(groups))
	for _, g := range groups {
		t := g[0]
		tr, err := pc.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{
			Direction: webrtc.RTPTransceiverDirectionSendonly,
		})
		if err != nil {
			return nil, fmt.Errorf("client: publish %s track %q: %w", t.Kind(), t.ID(), err)
		}
		for _, enc := range g[1:] {
			if err := tr.Sender().AddEncoding(enc); err != nil {
				return nil, fmt.Errorf("client: publish layer %q: %w", enc.RID(), err)
			}
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
	c.readEncodingRTCP(s.Track(), s.Read, opts)
}

// readEncodingsRTCP reads the RTCP of every encoding of a sender: a simulcast
// sender's layers each get their own, and callbacks name the layer's track.
func (c *Client) readEncodingsRTCP(s *webrtc.RTPSender, layers []webrtc.TrackLocal, opts PublishOptions) bool {
	for i, t := range layers {
		read := s.Read
		if i > 0 {
			rid := t.RID()
			read = func(b []byte) (int, interceptor.Attributes, error) { return s.ReadSimulcast(b, rid) }
		}
		if !c.spawn(func() { c.readEncodingRTCP(t, read, opts) }) {
			return false
		}
	}
	return true
}

func (c *Client) readEncodingRTCP(t webrtc.TrackLocal, read func([]byte) (int, interceptor.Attributes, error), opts PublishOptions) {
	buf := make([]byte, 1500)
	for {
		n, _, err := read(buf)
		if err != nil {
			return
		}
		if t == nil || (opts.OnKeyframeRequest == nil && opts.OnRTCP == nil) {
			continue
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			c.log.Debug("bad rtcp from server", "err", err)
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
