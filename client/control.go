package client

import (
	"context"
	"fmt"
	"time"

	"github.com/talkrelay/talkrelay/signal/wire"
)

// SetMuted tells the SFU that the host turned its microphone (kind "audio")
// or camera ("video") off or on, so viewers can show it instead of guessing
// from silence. The SFU answers errors (e.g. forbidden for a viewer) on Events.
func (c *Client) SetMuted(kind string, muted bool) error {
	if kind != "audio" && kind != "video" {
		return fmt.Errorf("client: mute: kind %q is neither audio nor video", kind)
	}
	if err := c.Send(wire.Message{Type: wire.TypeMute, Kind: kind, Muted: wire.Bool(muted)}); err != nil {
		return fmt.Errorf("client: mute %s: %w", kind, err)
	}
	return nil
}

// EndLive asks the SFU to end the room's live; the outcome arrives on Events
// as live_ended (or an error).
func (c *Client) EndLive() error {
	if err := c.Send(wire.Message{Type: wire.TypeEndLive}); err != nil {
		return fmt.Errorf("client: end live: %w", err)
	}
	return nil
}

// Ping sends a ping and waits for its pong, returning the round trip: a
// liveness check and signaling-latency probe for tests and the load
// generator. The pong is also delivered on Events.
func (c *Client) Ping(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	if _, err := c.requestThen(ctx, wire.Message{Type: wire.TypePing}, nil); err != nil {
		return 0, fmt.Errorf("client: ping: %w", err)
	}
	return time.Since(start), nil
}
