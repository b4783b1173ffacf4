package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/client/synth"
)

// sender is one client's synthetic camera and microphone: synth VP8 (unless
// audio only) and Opus paced in real time, with send times stamped into
// every payload for latency. The live host and every call device have one.
type sender struct {
	video  *synth.Video // nil when audio only
	audio  *synth.Audio
	vt, at *webrtc.TrackLocalStaticRTP // vt nil when audio only

	sent      atomic.Uint64
	startedAt time.Time // first media written; set before pacing starts
	cancel    context.CancelFunc
	done      chan error // the pacer's result
}

// newSender makes the tracks, labelled with stream; video nil means audio
// only.
func newSender(stream string, video *synth.VideoConfig) (*sender, error) {
	s := &sender{audio: synth.NewAudio(synth.AudioConfig{Now: time.Now})}
	var err error
	if video != nil {
		vc := *video
		vc.Now = time.Now
		s.video = synth.NewVideo(vc)
		s.vt, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", stream)
		if err != nil {
			return nil, fmt.Errorf("loadgen: %s video track: %w", stream, err)
		}
	}
	s.at, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", stream)
	if err != nil {
		return nil, fmt.Errorf("loadgen: %s audio track: %w", stream, err)
	}
	return s, nil
}

// publish publishes the tracks on c and waits for the publisher connection
// to be up: the SFU would drop media written before.
func (s *sender) publish(ctx context.Context, c *client.Client) error {
	tracks := []webrtc.TrackLocal{s.at}
	if s.vt != nil {
		tracks = []webrtc.TrackLocal{s.vt, s.at}
	}
	opts := client.PublishOptions{OnKeyframeRequest: func(t webrtc.TrackLocal) {
		if s.vt != nil && t == s.vt {
			s.video.RequestKeyframe()
		}
	}}
	if _, err := c.Publish(ctx, opts, tracks...); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		switch c.Publisher().ConnectionState() {
		case webrtc.PeerConnectionStateConnected:
			return nil
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			return errors.New("publisher connection failed")
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("publisher connection: %w", ctx.Err())
		case <-c.Done():
			return fmt.Errorf("connection ended: %w", c.Err())
		case <-tick.C:
		}
	}
}

// start starts the pacer goroutine, which the sender owns until stop.
func (s *sender) start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan error, 1)
	s.startedAt = time.Now()
	write := func(t *webrtc.TrackLocalStaticRTP) func(*rtp.Packet) error {
		return func(p *rtp.Packet) error {
			s.sent.Add(1)
			return t.WriteRTP(p)
		}
	}
	var writeVideo func(*rtp.Packet) error
	if s.vt != nil {
		writeVideo = write(s.vt)
	}
	go func() { s.done <- synth.Pace(ctx, s.video, writeVideo, s.audio, write(s.at)) }()
}

// stop ends pacing, if it started; a closed connection is not an error.
func (s *sender) stop() error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	err := <-s.done
	s.cancel = nil
	if err == nil || errors.Is(err, io.ErrClosedPipe) {
		return nil
	}
	return fmt.Errorf("pacing: %w", err)
}
