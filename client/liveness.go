package client

import (
	"time"

	"github.com/talkrelay/talkrelay/signal/wire"
)

// Liveness: a node that dies with its machine, or hangs, or is cut off by
// the network sends no reset, and a WebSocket read would wait for it
// forever. The client pings (keepalive) and takes the connection for dead
// when the server stays silent past Config.LivenessTimeout; sooner when one
// of its peer connections goes down (media stopped, which a dead node also
// causes): it pings at once and gives the server probeTimeout to answer.
// Closing the connection then starts what any drop starts: resume, or fail
// over to another node of the cluster, first, since the node just failed to
// answer.

// probeTimeout is how long the server has to answer the ping sent when a
// peer connection went down.
const probeTimeout = 1500 * time.Millisecond

// livenessTick is how often the watchdog looks.
const livenessTick = 500 * time.Millisecond

// heard records that the server said something.
func (c *Client) heard() { c.lastHeard.Store(time.Now().UnixNano()) }

// probeServer asks the watchdog to check on the server now.
func (c *Client) probeServer() {
	select {
	case c.probe <- struct{}{}:
	default: // one is pending already
	}
}

// keepalive pings the server every KeepaliveInterval and drops a
// connection whose server went silent, until the client ends.
func (c *Client) keepalive() {
	defer c.wg.Done()
	every := c.cfg.KeepaliveInterval
	if every <= 0 {
		every = keepaliveInterval
	}
	silence := c.cfg.LivenessTimeout
	if silence <= 0 {
		silence = 2*every + 5*time.Second
	}
	tick := time.NewTicker(livenessTick)
	defer tick.Stop()
	lastPing := time.Now()
	var probedAt time.Time // a probe's ping, unanswered so far
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.probe:
			if probedAt.IsZero() {
				probedAt, lastPing = time.Now(), time.Now()
				c.sendAsync(wire.Message{Type: wire.TypePing})
			}
		case now := <-tick.C:
			if now.Sub(lastPing) >= every {
				lastPing = now
				c.sendAsync(wire.Message{Type: wire.TypePing})
			}
			heard := time.Unix(0, c.lastHeard.Load())
			if !probedAt.IsZero() && heard.After(probedAt) {
				probedAt = time.Time{} // answered: the server is there
			}
			probeFailed := !probedAt.IsZero() && now.Sub(probedAt) > probeTimeout
			if probeFailed || now.Sub(heard) > silence {
				c.log.Warn("server silent; dropping the connection", "silent", now.Sub(heard).Round(time.Millisecond), "probed", !probedAt.IsZero())
				probedAt = time.Time{}
				c.heard() // one drop per silence: a resumed link starts afresh
				c.silentDrop.Store(true)
				c.dropLink()
			}
		}
	}
}

// dropLink cuts the current WebSocket without a close handshake: the reader
// fails and resumes, fails over, or ends the client.
func (c *Client) dropLink() {
	if l := c.currentLink(); l != nil {
		_ = l.ws.CloseNow()
	}
}
