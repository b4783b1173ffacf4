package signal

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/room"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// outQueueLen bounds a client's unsent messages. A client that lets it fill is
// not reading and is closed rather than allowed to hold memory or slow a room.
const outQueueLen = 256

// conn is one signaling WebSocket. It is the room's Peer for its participant.
type conn struct {
	h   *Handler
	ws  *websocket.Conn
	log *slog.Logger

	out       chan wire.Message
	done      chan struct{} // closed when the connection is to end
	closeOnce sync.Once
	finalErr  *wire.Error // sent last, if set; written before done closes
	finalID   string      // the id of the request that caused finalErr
	dropped   int         // messages dropped over the rate limit since dropStart (reader only)
	dropStart time.Time
	writerEnd chan struct{}
	// lost is set when the network ended the connection (a read or write
	// failed without a close frame, before we closed): the client may resume,
	// and what was not written yet is kept for it (failed, then out).
	lost     atomic.Bool
	overflow atomic.Bool    // a lost connection's queue was full: something was not kept
	failed   []wire.Message // the message whose write failed; the writer's until writerEnd
}

func newConn(h *Handler, ws *websocket.Conn, remote string) *conn {
	// Twice the protocol cap: our own check (which explains itself to the client)
	// always fires first.
	ws.SetReadLimit(2 * wire.MaxMessageBytes)
	return &conn{
		h: h, ws: ws, log: h.log.With("remote", remote),
		out: make(chan wire.Message, outQueueLen), done: make(chan struct{}), writerEnd: make(chan struct{}),
	}
}

// Send implements room.Peer.
func (c *conn) Send(m wire.Message) {
	select {
	case <-c.done:
		if c.lost.Load() {
			c.hold(m) // for the resume: nothing is written to a lost connection
		}
		return
	default:
	}
	select {
	case c.out <- m:
	default:
		c.Close(&wire.Error{Code: wire.CodeSlowConsumer, Message: "too many unread messages", Fatal: true})
	}
}

// hold keeps m unsent in the queue of a lost connection; past the queue's
// size the session cannot be resumed whole, so it will not be.
func (c *conn) hold(m wire.Message) {
	select {
	case c.out <- m:
	default:
		c.overflow.Store(true)
	}
}

// unsent returns, in order, the messages a lost connection never wrote: the
// one whose write failed, then the queue. Call it once the writer has ended.
func (c *conn) unsent() []wire.Message {
	msgs := c.failed
	for {
		select {
		case m := <-c.out:
			msgs = append(msgs, m)
		default:
			return msgs
		}
	}
}

// Close implements room.Peer: queued messages are flushed, then err, then the
// socket closes.
func (c *conn) Close(err *wire.Error) { c.closeFor("", err) }

// closeFor is Close with the id of the request that caused err.
func (c *conn) closeFor(id string, err *wire.Error) {
	c.closeOnce.Do(func() {
		c.finalErr, c.finalID = err, id
		close(c.done)
	})
}

func (c *conn) serve(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Writer: owned by this connection, ends after done closes and the queue drains.
	go c.writeLoop()
	p := c.join(ctx)
	if p != nil {
		c.readLoop(ctx, p)
	}
	c.Close(nil)
	// Unblock a read that is still waiting, then let the writer finish.
	<-c.writerEnd
	switch s := p.(type) {
	case nil:
	case *room.Participant:
		// A connection the network lost leaves a session the client may resume.
		s.Dropped(c, c.lost.Load() && c.finalErr == nil && !c.overflow.Load(), c.unsent)
	default:
		s.Disconnected()
	}
}

// join reads until a successful join or the join timeout. Timeouts close the
// connection from a timer rather than a read deadline: the library tears the
// socket down when a read's context ends, which would lose our explanation.
func (c *conn) join(ctx context.Context) session {
	timer := time.AfterFunc(c.h.cfg.JoinTimeout, func() {
		c.Close(&wire.Error{Code: wire.CodeHandshakeTimeout, Message: "no join within the time allowed", Fatal: true})
	})
	defer timer.Stop()
	for {
		m, err := c.read(ctx)
		if err != nil {
			c.fail(err)
			return nil
		}
		received := time.Now()
		if m.Type != wire.TypeJoin {
			c.reply(m, wire.Errorf(wire.CodeNotJoined, "send join first"))
			continue
		}
		g, verr := c.h.cfg.Verifier.Verify(m.Token)
		if verr != nil {
			c.closeFor(m.ID, tokenError(verr))
			return nil
		}
		if m.Room != "" && m.Room != g.Room {
			c.closeFor(m.ID, &wire.Error{Code: wire.CodeWrongRoom, Message: "token is for another room", Fatal: true})
			return nil
		}
		if !timer.Stop() {
			return nil // timed out meanwhile
		}
		if c.redirected(g, m) {
			return nil
		}
		p, jerr := c.enter(g, m)
		if jerr != nil {
			we := asWireError(jerr)
			we.Fatal = true
			c.closeFor(m.ID, we)
			return nil
		}
		// Join has queued the joined answer: this is the server's share of the join.
		c.h.cfg.Metrics.JoinLatency.Observe(time.Since(received).Seconds())
		c.log = c.log.With("identity", g.Identity)
		return p
	}
}

// enter admits a verified client: a caller becomes a device reachable for
// calls, everyone else a participant of its token's room, or takes back its
// session (join.resume).
func (c *conn) enter(g auth.Grant, m wire.Message) (session, error) {
	if g.Role == auth.RoleCaller {
		if c.h.cfg.Calls == nil {
			return nil, &wire.Error{Code: wire.CodeForbidden, Message: "this server takes no calls", Fatal: true}
		}
		return c.h.cfg.Calls.Connect(g, c, m.ID)
	}
	p, resumed, err := c.h.cfg.Rooms.Enter(g, c, room.JoinOptions{ID: m.ID, Resume: m.Resume, ChatAfter: m.ChatAfter})
	if err != nil {
		return nil, err
	}
	if m.Resume != "" && !resumed {
		c.log.Debug("resume token not valid (expired or unknown): joined afresh")
	}
	return p, nil
}

func tokenError(err error) *wire.Error {
	e := &wire.Error{Code: wire.CodeUnauthorized, Message: "invalid token: " + err.Error(), Fatal: true}
	if errors.Is(err, auth.ErrExpired) {
		e.Code = wire.CodeTokenExpired
		e.Message = "token expired"
	}
	return e
}

func (c *conn) readLoop(ctx context.Context, p session) {
	limit := rate.NewLimiter(rate.Limit(c.h.cfg.MessageRate), c.h.cfg.MessageBurst)
	idle := time.AfterFunc(c.h.cfg.IdleTimeout, func() {
		c.Close(&wire.Error{Code: wire.CodeIdleTimeout, Message: "nothing received within the idle timeout; send ping", Fatal: true})
	})
	defer idle.Stop()
	for {
		m, err := c.read(ctx)
		if err != nil {
			c.fail(err)
			return
		}
		idle.Reset(c.h.cfg.IdleTimeout)
		if !limit.Allow() {
			if c.limited(m) {
				return
			}
			continue
		}
		if m.Type == wire.TypeLeave {
			p.Leave()
			return
		}
		c.dispatch(p, m)
		select {
		case <-c.done:
			return
		default:
		}
	}
}

// A client that has more than maxDropped messages dropped within dropWindow is
// not slowing down: the server stops listening to it.
const (
	maxDropped = 500
	dropWindow = 10 * time.Second
)

// limited answers a message over the client's rate: the first drop of a window
// gets an error (later ones are dropped quietly, so a flood cannot make us flood
// back); a client that keeps flooding is disconnected. It reports whether to stop.
func (c *conn) limited(m wire.Message) bool {
	now := time.Now()
	if now.Sub(c.dropStart) > dropWindow {
		c.dropStart, c.dropped = now, 0
	}
	c.dropped++
	if c.dropped > maxDropped {
		c.closeFor(m.ID, &wire.Error{Code: wire.CodeRateLimited, Message: "too many messages; disconnected", Fatal: true})
		return true
	}
	if c.dropped == 1 {
		c.Send(wire.Message{Type: wire.TypeError, ID: m.ID, Error: wire.Errorf(wire.CodeRateLimited, "too many messages: slow down; this one was dropped")})
	}
	return false
}

func (c *conn) dispatch(p session, m wire.Message) {
	var err error
	if strings.HasPrefix(m.Type, "call.") || strings.HasPrefix(m.Type, "match.") {
		err = c.dispatchCall(p, m)
		if err != nil {
			c.reply(m, err)
		}
		return
	}
	switch m.Type {
	case wire.TypeJoin:
		err = wire.Errorf(wire.CodeAlreadyJoined, "this connection has joined already")
	case wire.TypePing:
		c.Send(wire.Message{Type: wire.TypePong, ID: m.ID})
	case wire.TypeOffer:
		err = p.Offer(m.ID, m.SDP) // the room sends the answer, then its candidates
	case wire.TypeAnswer:
		err = p.Answer(m.SDP)
	case wire.TypeCandidate:
		err = p.Candidate(m.Target, m.Candidate)
	case wire.TypeICERestart:
		err = p.ICERestart(m.Target)
	case wire.TypeMute:
		if m.Muted == nil {
			err = wire.Errorf(wire.CodeBadMessage, "mute needs \"muted\": true or false")
		} else {
			err = p.SetMuted(m.Kind, *m.Muted)
		}
	case wire.TypeEndLive:
		err = p.EndLive()
	case wire.TypeVideoSize:
		err = p.SetVideoSize(m.Width, m.Height)
	case wire.TypeRaiseHand, wire.TypeMuteParticipant, wire.TypeRemoveParticipant:
		err = dispatchGroup(p, m)
	default:
		err = wire.Errorf(wire.CodeUnknownType, "unknown message type %q", m.Type)
	}
	if err != nil {
		c.reply(m, err)
	}
}

// reply sends err as the answer to m; fatal errors end the connection.
func (c *conn) reply(m wire.Message, err error) {
	we := asWireError(err)
	msg := wire.Message{Type: wire.TypeError, ID: m.ID, Error: we}
	if we.Fatal {
		c.closeFor(m.ID, we)
		return
	}
	c.Send(msg)
}

func asWireError(err error) *wire.Error {
	var we *wire.Error
	if errors.As(err, &we) {
		cp := *we
		return &cp
	}
	return &wire.Error{Code: wire.CodeInternal, Message: "internal error"}
}

// errProtocol carries a protocol violation found while reading.
type errProtocol struct{ e *wire.Error }

func (e errProtocol) Error() string { return e.e.Error() }

// read returns the next message. Malformed JSON is answered here and skipped.
func (c *conn) read(ctx context.Context) (wire.Message, error) {
	for {
		typ, r, err := c.ws.Reader(ctx)
		if err != nil {
			return wire.Message{}, err
		}
		b, err := io.ReadAll(io.LimitReader(r, wire.MaxMessageBytes+1))
		if err != nil {
			return wire.Message{}, err
		}
		if len(b) > wire.MaxMessageBytes {
			return wire.Message{}, errProtocol{&wire.Error{Code: wire.CodeTooLarge, Message: "message over 64 KiB", Fatal: true}}
		}
		if typ != websocket.MessageText {
			c.Send(wire.Message{Type: wire.TypeError, Error: wire.Errorf(wire.CodeBadMessage, "binary frames are not part of the protocol")})
			continue
		}
		var m wire.Message
		if err := json.Unmarshal(b, &m); err != nil {
			c.Send(wire.Message{Type: wire.TypeError, Error: wire.Errorf(wire.CodeBadMessage, "message is not valid JSON of the protocol's shape")})
			continue
		}
		return m, nil
	}
}

// fail ends the connection after a read error, explaining protocol violations.
func (c *conn) fail(err error) {
	var pe errProtocol
	if errors.As(err, &pe) {
		c.Close(pe.e)
		return
	}
	c.netFailed(err)
	c.Close(nil)
}

// netFailed notes a read or write failure that was neither our own close nor
// the client's close frame: the network lost the connection.
func (c *conn) netFailed(err error) {
	select {
	case <-c.done:
		return // we were closing it
	default:
	}
	if websocket.CloseStatus(err) == -1 {
		c.lost.Store(true)
	}
}

func (c *conn) writeLoop() {
	defer close(c.writerEnd)
	for {
		select {
		case m := <-c.out:
			if c.lost.Load() {
				c.failed = append(c.failed, m) // the reader found the connection dead
				c.ws.CloseNow()
				return
			}
			if err := c.write(m); err != nil {
				c.netFailed(err)
				if c.lost.Load() {
					c.failed = append(c.failed, m)
				}
				c.Close(nil)
				c.ws.CloseNow()
				return
			}
		case <-c.done:
			if c.lost.Load() {
				c.ws.CloseNow() // nothing more is written to a dead connection
				return
			}
			c.flushAndClose()
			return
		}
	}
}

func (c *conn) flushAndClose() {
	for {
		select {
		case m := <-c.out:
			if c.write(m) != nil {
				c.ws.CloseNow()
				return
			}
			continue
		default:
		}
		break
	}
	status, reason := websocket.StatusNormalClosure, ""
	if e := c.finalErr; e != nil {
		_ = c.write(wire.Message{Type: wire.TypeError, ID: c.finalID, Error: e})
		status, reason = websocket.StatusPolicyViolation, e.Code
		if e.Code == wire.CodeTooLarge {
			status = websocket.StatusMessageTooBig
		}
	}
	// Close waits (boundedly, inside the library) for the client's close frame.
	_ = c.ws.Close(status, reason)
}

func (c *conn) write(m wire.Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.h.cfg.WriteTimeout)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, b)
}
