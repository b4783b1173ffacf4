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

// hostIdentity is who the synthetic host is in the room.
const hostIdentity = "loadgen-host"

// host is the synthetic host on camera: synth VP8 and Opus paced in real
// time, with send times stamped into every payload for latency.
type host struct {
	c      *client.Client
	video  *synth.Video
	audio  *synth.Audio
	vt, at *webrtc.TrackLocalStaticRTP

	sent      atomic.Uint64
	startedAt time.Time // first media written; set before pacing starts
	cancel    context.CancelFunc
	done      chan error // the pacer's result
}

type hostConfig struct {
	url, room, token string
	api              *webrtc.API
	video            synth.VideoConfig
}

// startHost joins, publishes and, once the publisher connection is up (the
// SFU would drop media written before), starts pacing on a goroutine the
// host owns until stop.
func startHost(ctx context.Context, cfg hostConfig) (*host, error) {
	c, err := client.Join(ctx, client.Config{URL: cfg.url, Token: cfg.token, Room: cfg.room, API: cfg.api})
	if err != nil {
		return nil, fmt.Errorf("loadgen: host join: %w", err)
	}
	cfg.video.Now = time.Now
	h := &host{
		c:     c,
		video: synth.NewVideo(cfg.video),
		audio: synth.NewAudio(synth.AudioConfig{Now: time.Now}),
	}
	if err := h.publish(ctx); err != nil {
		_ = c.Close()
		return nil, err
	}
	h.run()
	return h, nil
}

func (h *host) publish(ctx context.Context) error {
	var err error
	h.vt, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "loadgen")
	if err != nil {
		return fmt.Errorf("loadgen: host video track: %w", err)
	}
	h.at, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "loadgen")
	if err != nil {
		return fmt.Errorf("loadgen: host audio track: %w", err)
	}
	opts := client.PublishOptions{OnKeyframeRequest: func(t webrtc.TrackLocal) {
		if t == h.vt {
			h.video.RequestKeyframe()
		}
	}}
	if _, err := h.c.Publish(ctx, opts, h.vt, h.at); err != nil {
		return fmt.Errorf("loadgen: host publish: %w", err)
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		switch h.c.Publisher().ConnectionState() {
		case webrtc.PeerConnectionStateConnected:
			return nil
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			return errors.New("loadgen: host publisher connection failed")
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("loadgen: host publisher connection: %w", ctx.Err())
		case <-h.c.Done():
			return fmt.Errorf("loadgen: host connection ended: %w", h.c.Err())
		case <-tick.C:
		}
	}
}

// run starts the pacer goroutine; stop ends it.
func (h *host) run() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	h.startedAt = time.Now()
	write := func(t *webrtc.TrackLocalStaticRTP) func(*rtp.Packet) error {
		return func(p *rtp.Packet) error {
			h.sent.Add(1)
			return t.WriteRTP(p)
		}
	}
	go func() { h.done <- synth.Pace(ctx, h.video, write(h.vt), h.audio, write(h.at)) }()
}

// stop ends pacing and leaves the room, which ends the live at once (a
// dropped host would hold it open for the grace period).
func (h *host) stop() error {
	h.cancel()
	err := <-h.done
	if errors.Is(err, io.ErrClosedPipe) {
		err = nil
	}
	if err != nil {
		err = fmt.Errorf("loadgen: host pacing: %w", err)
	}
	return errors.Join(err, h.c.Leave())
}
