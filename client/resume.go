package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/signal/wire"
)

// EventReconnecting is the event a Config.Resume client puts on Events when its
// WebSocket dropped and it starts to reconnect. The server never sends it;
// resumed (or joined, for a new session) follows, or the client ends.
const EventReconnecting = "reconnecting"

const (
	resumeFirstBackoff = 100 * time.Millisecond
	resumeMaxBackoff   = 2 * time.Second
	resumeDialTimeout  = 10 * time.Second // one attempt at most
	// defaultResumeWindow applies when the server announced none.
	defaultResumeWindow = 30 * time.Second
	// publisherDownWait is how long a Resume client's publisher may stay
	// disconnected before the SDK restarts its ICE; failed restarts at once.
	publisherDownWait = 3 * time.Second
)

// link is one WebSocket of the session; a resume replaces it.
type link struct {
	ws   *websocket.Conn
	next chan struct{} // closed when a new link replaces this one
}

func newLink(ws *websocket.Conn) *link { return &link{ws: ws, next: make(chan struct{})} }

func (c *Client) currentLink() *link {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.link
}

// DropSignaling cuts the WebSocket at once, without a close handshake, as a
// network failure would, and leaves the peer connections up. It is meant for
// tests and network simulations: with Config.Resume the session resumes on a
// new WebSocket; without it the client ends as after any lost connection.
func (c *Client) DropSignaling() {
	_ = c.currentLink().ws.CloseNow()
}

// resumable reports whether the reader's failure err is a drop to resume from:
// the connection was lost, not closed by the server or by us, and nothing the
// server said forbids coming back.
func (c *Client) resumable(err error) bool {
	if !c.cfg.Resume || websocket.CloseStatus(err) != -1 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.ended && !c.leaving && c.fatal == nil && c.shutdownMsg == "" && c.joined.ResumeToken != ""
}

// resume reconnects after a drop (cause), retrying with backoff until the
// resume window passes: at its node, taking the session back, and, when that
// node does not answer, at another node of the cluster afresh (failover.go).
// A refusal by the server (an expired token, a ban) is final. It runs on the
// reader, so nothing is dispatched meanwhile.
func (c *Client) resume(cause error) error {
	c.log.Info("signaling dropped; resuming the session", "err", cause)
	c.emit(wire.Message{Type: EventReconnecting})
	timeout := c.cfg.ReconnectTimeout
	if timeout <= 0 {
		timeout = time.Duration(c.Joined().ResumeWithinMS) * time.Millisecond
	}
	if timeout <= 0 {
		timeout = defaultResumeWindow
	}
	deadline := time.Now().Add(timeout)
	backoff := resumeFirstBackoff
	for {
		c.mu.Lock()
		leaving, home := c.leaving, c.home
		c.mu.Unlock()
		if leaving {
			c.end(nil, false) // Leave asked for the end; the leave itself is lost with the connection
			return nil
		}
		others := c.alternates()
		// The watchdog dropped a node that stopped answering: this round
		// goes to the others first.
		err := errNodeSilent
		if !c.silentDrop.Swap(false) || len(others) == 0 {
			var done bool
			if done, err = c.resumeHome(home, len(others) > 0, deadline); done {
				return err
			}
		}
		if len(others) > 0 {
			j, ferr := c.failover(others, deadline)
			if ferr == nil {
				return c.adopt(j.ws, j.early, j.reply, j.url)
			}
			if errors.Is(ferr, ErrClosed) || finalRefusal(ferr) {
				return ferr
			}
			err = errors.Join(err, ferr)
		}
		if time.Until(deadline) < backoff {
			return fmt.Errorf("client: could not resume within %v: %w", timeout, err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			return ErrClosed
		}
		backoff = min(2*backoff, resumeMaxBackoff)
	}
}

var errNodeSilent = errors.New("client: the node stopped answering")

// resumeHome tries to take the session back at its node. done: resumed (err
// nil), refused for good, or the client ended; else err says why it failed.
func (c *Client) resumeHome(home string, others bool, deadline time.Time) (done bool, err error) {
	attempt := resumeDialTimeout
	if others {
		attempt = failoverDialTimeout
	}
	cfg := c.cfg
	cfg.URL = home
	ctx, cancel := context.WithTimeout(c.ctx, min(time.Until(deadline), attempt))
	ws, early, reply, err := dialAndJoin(ctx, cfg, c.Joined().ResumeToken, c.chat.lastSeq())
	cancel()
	if err == nil {
		return true, c.adopt(ws, early, reply, home)
	}
	if c.ctx.Err() != nil {
		return true, ErrClosed
	}
	var we *wire.Error
	if errors.As(err, &we) {
		return true, err
	}
	return false, err
}

// adopt makes ws, on the node at url, the session's WebSocket. resumed means
// the session went on; joined means the server started a new one (the old
// one's window passed, or another node took the client), so the old peer
// connections are dropped and the server's new offer starts over.
func (c *Client) adopt(ws *websocket.Conn, early []wire.Message, reply wire.Message, url string) error {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		_ = ws.CloseNow()
		return ErrClosed
	}
	old := c.link
	c.link = newLink(ws)
	c.heard()
	c.joined = *reply.Joined
	c.home = url
	c.nodes = slices.Clone(reply.Joined.Nodes)
	c.mu.Unlock()
	_ = old.ws.CloseNow()
	close(old.next) // the writer carries on with the new WebSocket

	fresh := reply.Type == wire.TypeJoined
	if fresh {
		c.log.Info("joined as a new session", "participant", reply.Joined.ParticipantID, "url", url)
		c.pub.reset()
		c.sub.reset()
	} else {
		c.log.Info("session resumed")
	}
	c.emit(reply)
	for _, m := range early {
		c.dispatch(m)
	}
	if !fresh {
		// The server restarts a subscriber that went down meanwhile; the
		// publisher is ours to restart.
		if pc := c.pub.conn(); pc != nil && iceDown(pc.ConnectionState()) {
			c.spawn(c.restartPublisherNow)
		}
	}
	return nil
}

func iceDown(st webrtc.PeerConnectionState) bool {
	return st == webrtc.PeerConnectionStateDisconnected || st == webrtc.PeerConnectionStateFailed
}

// ICERestart looks for new network paths after a network change, keeping the
// tracks, the chat and the encryption sessions: the SFU offers the subscriber
// again with new ICE credentials, and a published connection is offered again
// with new ones; it returns once the SFU answered that offer. The SFU restarts
// a subscriber that stays disconnected by itself, and with Config.Resume the
// SDK restarts a publisher that does.
func (c *Client) ICERestart(ctx context.Context) error {
	if c.sub.conn() != nil {
		if err := c.Send(wire.Message{Type: wire.TypeICERestart, Target: wire.TargetSubscriber}); err != nil {
			return fmt.Errorf("client: ice restart: %w", err)
		}
	}
	return c.restartPublisher(ctx)
}

// restartPublisher offers the publisher connection again with new ICE
// credentials and waits for the answer; without a publisher it does nothing.
func (c *Client) restartPublisher(ctx context.Context) error {
	c.pubMu.Lock()
	defer c.pubMu.Unlock()
	pc := c.pub.conn()
	if pc == nil || pc.ConnectionState() == webrtc.PeerConnectionStateClosed {
		return nil
	}
	c.pub.holdCandidates() // the new candidates follow the offer
	offer, err := pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err == nil {
		err = pc.SetLocalDescription(offer)
	}
	if err != nil {
		c.pub.markSignaled()
		return fmt.Errorf("client: ice restart publisher: %w", err)
	}
	reply, err := c.requestThen(ctx, wire.Message{Type: wire.TypeOffer, SDP: offer.SDP}, c.pub.markSignaled)
	c.pub.markSignaled() // in case the offer never went out
	if err != nil {
		return fmt.Errorf("client: ice restart publisher: %w", err)
	}
	if reply.Type != wire.TypeAnswer {
		return fmt.Errorf("client: ice restart publisher: unexpected %q reply", reply.Type)
	}
	return nil
}

func (c *Client) restartPublisherNow() {
	ctx, cancel := context.WithTimeout(c.ctx, resumeDialTimeout)
	defer cancel()
	if err := c.restartPublisher(ctx); err != nil {
		c.log.Warn("publisher ice restart", "err", err)
	}
}

// watchPeer follows a connection's state. With Config.Resume a publisher that
// stays disconnected, or fails, is restarted (the SFU restarts subscribers).
func (c *Client) watchPeer(p *peer, st webrtc.PeerConnectionState) {
	if iceDown(st) {
		c.probeServer() // media stopped: is the node still there?
	}
	if !c.cfg.Resume || p.target != wire.TargetPublisher {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case iceDown(st):
		if c.pubRestart != nil || c.ended {
			return
		}
		wait := publisherDownWait
		if st == webrtc.PeerConnectionStateFailed {
			wait = 0
		}
		// A timer, not a goroutine; the restart itself runs on a spawned one.
		c.pubRestart = time.AfterFunc(wait, func() {
			c.mu.Lock()
			c.pubRestart = nil
			c.mu.Unlock()
			if pc := c.pub.conn(); pc != nil && iceDown(pc.ConnectionState()) {
				c.spawn(c.restartPublisherNow)
			}
		})
	case c.pubRestart != nil:
		c.pubRestart.Stop()
		c.pubRestart = nil
	}
}
