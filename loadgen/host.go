package loadgen

import (
	"context"
	"errors"
	"fmt"

	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/client/synth"
)

// hostIdentity is who the synthetic host is in the room.
const hostIdentity = "loadgen-host"

// host is the synthetic host on camera: a sender publishing video and audio
// in the live's room.
type host struct {
	*sender
	c *client.Client
}

type hostConfig struct {
	url, room, token string
	api              *webrtc.API
	video            synth.VideoConfig
}

// startHost joins, publishes and, once the publisher connection is up,
// starts pacing on a goroutine the host owns until stop.
func startHost(ctx context.Context, cfg hostConfig) (*host, error) {
	c, err := client.Join(ctx, client.Config{URL: cfg.url, Token: cfg.token, Room: cfg.room, API: cfg.api})
	if err != nil {
		return nil, fmt.Errorf("loadgen: host join: %w", err)
	}
	s, err := newSender("loadgen", &cfg.video)
	if err == nil {
		err = s.publish(ctx, c)
	}
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("loadgen: host: %w", err)
	}
	s.start()
	return &host{sender: s, c: c}, nil
}

// stop ends pacing and leaves the room, which ends the live at once (a
// dropped host would hold it open for the grace period).
func (h *host) stop() error {
	err := h.sender.stop()
	if err != nil {
		err = fmt.Errorf("loadgen: host %w", err)
	}
	return errors.Join(err, h.c.Leave())
}
