package client

import (
	"github.com/pion/webrtc/v4"
	"time"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/coder/websocket"

	"github.com/talkrelay/talkrelay/signal/wire"
)

// wsURL derives the signaling endpoint from the SFU's base address: http
// becomes ws, https becomes wss, and the path gains /ws.
func wsURL(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("client: url %q: %w", base, err)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("client: url %q: scheme must be http, https, ws or wss", base)
	}
	if u.Host == "" {
		return "", fmt.Errorf("client: url %q: no host", base)
	}
	if !strings.HasSuffix(u.Path, "/ws") {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/ws"
	}
	u.RawPath = ""
	u.Fragment = ""
	return u.String(), nil
}

// dialAndJoin opens the WebSocket and performs the join handshake before any
// goroutine exists, so a refused join leaves nothing behind. Messages that
// arrive between the reply and the start of the reader would be in the
// returned slice (the server is not expected to send any before joined).
// resume and chatAfter, when set, ask to take a dropped session back; the
// reply is then resumed, or joined for a new session.
func dialAndJoin(ctx context.Context, cfg Config, resume string, chatAfter uint64) (*websocket.Conn, []wire.Message, wire.Message, error) {
	addr, err := wsURL(cfg.URL)
	if err != nil {
		return nil, nil, wire.Message{}, err
	}
	ws, _, err := websocket.Dial(ctx, addr, cfg.Dialer)
	if err != nil {
		return nil, nil, wire.Message{}, fmt.Errorf("client: dial %s: %w", addr, err)
	}
	ws.SetReadLimit(readLimit)
	fail := func(err error) (*websocket.Conn, []wire.Message, wire.Message, error) {
		_ = ws.CloseNow()
		return nil, nil, wire.Message{}, err
	}

	b, err := json.Marshal(wire.Message{Type: wire.TypeJoin, Token: cfg.Token, Room: cfg.Room, Resume: resume, ChatAfter: chatAfter})
	if err != nil {
		return fail(fmt.Errorf("client: encode join: %w", err))
	}
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	err = ws.Write(wctx, websocket.MessageText, b)
	cancel()
	if err != nil {
		return fail(fmt.Errorf("client: send join: %w", err))
	}

	var early []wire.Message
	for {
		m, err := readMessage(ctx, ws)
		if err != nil {
			return fail(fmt.Errorf("client: waiting for joined: %w", err))
		}
		switch {
		case (m.Type == wire.TypeJoined || m.Type == wire.TypeResumed) && m.Joined != nil:
			return ws, early, m, nil
		case m.Type == wire.TypeError && m.Error != nil:
			// A refusal is final whatever its fatal flag: we are not joined.
			return fail(fmt.Errorf("client: join refused: %w", m.Error))
		case m.Type == wire.TypeRedirect && m.URL != "":
			return fail(&redirectError{url: m.URL})
		case len(early) < eventQueueLen:
			early = append(early, m)
		}
	}
}

// readMessage reads one text frame and decodes it.
func readMessage(ctx context.Context, ws *websocket.Conn) (wire.Message, error) {
	typ, b, err := ws.Read(ctx)
	if err != nil {
		return wire.Message{}, err
	}
	if typ != websocket.MessageText {
		return wire.Message{}, fmt.Errorf("client: unexpected binary frame")
	}
	m, err := wire.Decode(b)
	if err != nil {
		return wire.Message{}, fmt.Errorf("client: decode %q: %w", truncate(b, 80), err)
	}
	return m, nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// readLoop is the client's only reader. It handles signaling inline, in
// arrival order, so candidates never overtake the descriptions they belong to.
// With Config.Resume it also reconnects a dropped WebSocket (see resume).
func (c *Client) readLoop(early []wire.Message) {
	defer c.wg.Done()
	defer close(c.events)
	for _, m := range early {
		c.dispatch(m)
	}
	for {
		ws := c.currentLink().ws
		m, err := readMessage(c.ctx, ws)
		if err == nil {
			c.heard()
			c.dispatch(m)
			continue
		}
		if !c.resumable(err) {
			c.end(c.readFailure(err), false)
			return
		}
		if err := c.resume(err); err != nil {
			c.end(err, false)
			return
		}
	}
}

// readFailure turns the error that ended the reader into Err: nil when we or
// a requested leave closed the connection, else the most telling cause.
func (c *Client) readFailure(err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.ended:
		return nil
	case c.fatal != nil:
		return fmt.Errorf("client: closed by server: %w", c.fatal)
	case c.shutdownMsg != "":
		return fmt.Errorf("%w: %s", ErrServerShutdown, c.shutdownMsg)
	case c.leaving:
		return nil
	case websocket.CloseStatus(err) == websocket.StatusNormalClosure:
		return fmt.Errorf("client: server closed the connection: %w", err)
	}
	return fmt.Errorf("client: read: %w", err)
}

// dispatch acts on one server message.
func (c *Client) dispatch(m wire.Message) {
	switch m.Type {
	case wire.TypeOffer:
		c.mu.Lock()
		leaving := c.shutdownMsg != ""
		c.mu.Unlock()
		if leaving {
			return // the server is going away; its connections close with it
		}
		if err := c.onSubscriberOffer(m.SDP); err != nil {
			if pc := c.sub.conn(); pc != nil && pc.ConnectionState() == webrtc.PeerConnectionStateClosed {
				// The SFU closed the connection (leaving or shutting down) while
				// this offer was on its way; the signaling close follows.
				c.log.Debug("offer for a closed subscriber", "err", err)
				return
			}
			// Without a working subscriber the participant receives nothing;
			// ending makes that visible through Err instead of a silent stall.
			c.end(err, true)
		}
		return
	case wire.TypeAnswer:
		err := c.pub.setRemoteAnswer(m.SDP)
		if !c.resolve(m, err) && err != nil {
			c.log.Warn("publisher answer", "err", err)
		}
		return
	case wire.TypeCandidate:
		c.onRemoteCandidate(m)
		return
	case wire.TypeError:
		if m.Error != nil && m.Error.Fatal {
			c.mu.Lock()
			c.fatal = m.Error
			c.mu.Unlock()
		}
		c.log.Debug("server error", "id", m.ID, "error", m.Error)
	case wire.TypePong:
		if m.ID == "" {
			return // the answer to a keepalive
		}
	case wire.TypeNodes:
		c.setNodes(m.Nodes)
	case wire.TypeServerShutdown:
		c.mu.Lock()
		c.shutdownMsg = m.Reason
		if c.shutdownMsg == "" {
			c.shutdownMsg = "no reason given"
		}
		c.mu.Unlock()
	}
	// Emit before resolving, so a request's reply is on Events by the time
	// the request returns.
	if strings.HasPrefix(m.Type, "call.") {
		c.onCallEvent(m)
	}
	c.emit(m)
	if m.Type == wire.TypeError || m.Type == wire.TypePong || strings.HasPrefix(m.Type, "call.") || strings.HasPrefix(m.Type, "match.") {
		c.resolve(m, nil)
	}
}

func (c *Client) onRemoteCandidate(m wire.Message) {
	if m.Candidate == nil {
		c.log.Warn("candidate message without candidate")
		return
	}
	var p *peer
	switch m.Target {
	case wire.TargetSubscriber:
		p = c.sub
	case wire.TargetPublisher:
		p = c.pub
	default:
		c.log.Warn("candidate for unknown target", "target", m.Target)
		return
	}
	p.addRemoteCandidate(*m.Candidate)
}

// writeLoop is the client's only writer: it drains the queue Send fills,
// giving each write writeTimeout so a stuck peer cannot hold it forever.
func (c *Client) writeLoop() {
	defer c.wg.Done()
	for {
		select {
		case <-c.ctx.Done():
			return
		case b := <-c.out:
			if !c.write(b) {
				return
			}
		}
	}
}

// write sends b on the current WebSocket. When that fails, and the reader
// resumes the session on a new one, b goes there; it reports false once the
// client has ended.
func (c *Client) write(b []byte) bool {
	for {
		l := c.currentLink()
		wctx, cancel := context.WithTimeout(c.ctx, writeTimeout)
		err := l.ws.Write(wctx, websocket.MessageText, b)
		cancel()
		if err == nil {
			return true
		}
		if c.ctx.Err() != nil {
			return false
		}
		// The reader usually learns why right after a failed write (a fatal
		// error, a shutdown, a drop it resumes from): let it decide.
		select {
		case <-l.next:
			continue
		case <-c.done:
			return false
		case <-time.After(time.Second):
		}
		if !c.cfg.Resume {
			c.end(fmt.Errorf("client: write: %w", err), false)
			return false
		}
		_ = l.ws.CloseNow() // the reader fails at once and resumes or ends
		select {
		case <-l.next:
		case <-c.done:
			return false
		}
	}
}

// Send queues m for the server as is, without an id of its own. It returns
// ErrQueueFull rather than block when the writer is behind, and ErrClosed
// after the connection ended.
func (c *Client) Send(m wire.Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("client: encode %s: %w", m.Type, err)
	}
	return c.SendRaw(b)
}

// SendRaw queues b as one text frame, unchecked, so tests can feed the
// server malformed or oversized input.
func (c *Client) SendRaw(b []byte) error {
	select {
	case <-c.done:
		return ErrClosed
	default:
	}
	select {
	case c.out <- b:
		return nil
	default:
		return ErrQueueFull
	}
}

// sendAsync is Send for pion callbacks, which have nobody to return an error to.
func (c *Client) sendAsync(m wire.Message) {
	if err := c.Send(m); err != nil && !errors.Is(err, ErrClosed) {
		c.log.Warn("send", "type", m.Type, "err", err)
	}
}
