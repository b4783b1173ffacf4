package client

import (
	"fmt"

	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/signal/wire"
)

// onSubscriberOffer answers an offer from the SFU, creating the subscriber
// connection on the first one. The SFU offers whenever it adds or removes
// tracks, so this runs several times per session; it runs on the reader
// goroutine, which keeps each offer, its answer and later candidates in order.
func (c *Client) onSubscriberOffer(sdp string) error {
	pc := c.sub.conn()
	if pc == nil {
		var err error
		if pc, err = c.sub.open(); err != nil {
			return err
		}
		pc.OnTrack(c.onTrack)
		pc.OnDataChannel(c.onDataChannel)
	}
	// An offer that restarts ICE makes us gather anew: those candidates follow our answer.
	c.sub.holdCandidates()
	if err := c.sub.setRemote(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return err
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("client: create subscriber answer: %w", err)
	}
	if err := pc.SetLocalDescription(answer); err != nil {
		return fmt.Errorf("client: set subscriber answer: %w", err)
	}
	if err := c.Send(wire.Message{Type: wire.TypeAnswer, SDP: answer.SDP}); err != nil {
		return fmt.Errorf("client: send subscriber answer: %w", err)
	}
	c.sub.markSignaled()
	return nil
}

// onTrack hands a received track to the user or, without an OnTrack, reads
// it to the end: pion's interceptors (NACK, receiver reports) only see
// packets that somebody reads.
func (c *Client) onTrack(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
	c.log.Debug("track", "kind", t.Kind().String(), "id", t.ID(), "ssrc", uint32(t.SSRC()), "codec", t.Codec().MimeType)
	if c.cfg.OnTrack != nil {
		c.cfg.OnTrack(t, r)
		return
	}
	c.spawn(func() {
		buf := make([]byte, 1500)
		for {
			if _, _, err := t.Read(buf); err != nil {
				return
			}
		}
	})
}
