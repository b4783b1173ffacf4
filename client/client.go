// Package client is the Go SDK for talkrelay's SFU: it speaks the WebSocket
// signaling protocol of package wire and drives the two pion peer connections
// of a participant (a subscriber for the media it receives and, for hosts, a
// publisher for the media it sends). The SFU's tests, its load generator and
// the synthetic host are built on it.
package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/signal/wire"
)

// Errors a Client returns for local conditions; server refusals are *wire.Error.
var (
	// ErrClosed is returned by requests made after the connection ended.
	ErrClosed = errors.New("client: connection closed")
	// ErrQueueFull is returned when the outgoing queue is full, meaning the
	// server or the network has stopped taking our messages; the caller decides
	// whether to retry or give up rather than block.
	ErrQueueFull = errors.New("client: send queue full")
	// ErrServerShutdown is what Err wraps when the server said it was going away
	// before closing the connection.
	ErrServerShutdown = errors.New("client: server shut down")
)

const (
	eventQueueLen = 1024             // Events buffer
	sendQueueLen  = 256              // outgoing messages waiting for the writer
	writeTimeout  = 10 * time.Second // per WebSocket write
	leaveTimeout  = 5 * time.Second  // how long Leave waits for the server to close
	readLimit     = 1 << 20          // generous: the server caps its own messages
	// keepaliveInterval keeps an otherwise silent participant (a viewer who only
	// watches) inside the server's idle timeout.
	keepaliveInterval = 20 * time.Second
)

// Config says where and as whom a client joins, and what it does with media.
type Config struct {
	// URL is the SFU's HTTP base address (http, https, ws or wss); the SDK
	// connects to its /ws path.
	URL string
	// Token is the JWT that admits this participant to a room with a role.
	Token string
	// Room, if set, is sent with join so a token for another room is refused
	// (wrong_room) instead of silently joining that room.
	Room string
	// API builds the peer connections; nil means NewAPI(APIOptions{}). Share
	// one API among many clients to save memory.
	API *webrtc.API
	// OnTrack is called for each track the SFU sends on the subscriber
	// connection, on a pion goroutine; the callee should read the track until
	// it errors. If nil, the SDK reads and discards the packets itself so that
	// NACKs and receiver reports keep flowing.
	OnTrack func(*webrtc.TrackRemote, *webrtc.RTPReceiver)
	// Logger receives the SDK's logs; nil discards them.
	Logger *slog.Logger
	// Dialer customises the WebSocket handshake (headers, HTTP client, TLS).
	Dialer *websocket.DialOptions
	// OnChat, if set, receives each chat channel message instead of ChatMessages,
	// called in order on the channel's reading goroutine: a slow OnChat slows the
	// channel down, as a slow application would.
	OnChat func(b []byte)
	// KeepaliveInterval is how often the client pings so the server does not
	// close it as idle; 0 means 20 s.
	KeepaliveInterval time.Duration
	// LivenessTimeout is how long the server may stay silent before the
	// client takes the connection for dead (a node that died with its
	// machine sends no reset) and drops it, to resume or fail over; 0 means
	// twice KeepaliveInterval plus 5 s. A peer connection going down makes
	// the client ask at once, and wait only 2 s for an answer.
	LivenessTimeout time.Duration
	// Resume keeps the session through a dropped WebSocket (the network
	// changed or failed): the SDK reconnects by itself with the session's
	// resume token, retrying with backoff, and the session carries on with its
	// peer connections, chat and the server's messages of the meantime. Events
	// shows EventReconnecting when the drop is noticed, then resumed, or joined
	// if the server started a new session because the resume window had passed
	// (the subscriber is then negotiated anew, chat continues after the last
	// message received, and a host must Publish again). It never resumes after
	// Leave, Close, a fatal error or server_shutdown, nor after the server
	// closed the socket itself. Off, a dropped WebSocket ends the client.
	//
	// In a cluster (joined.nodes), when the node itself does not answer, the
	// SDK joins another node instead, with the same token: a new session
	// (joined), set up as above, whose chat continues after the last message
	// received; a viewer is back on the live as soon as that node relays it,
	// and URL names the new node (PROTOCOL.md, "Clusters").
	Resume bool
	// ReconnectTimeout bounds how long a Resume client keeps trying to get
	// back; 0 means the server's resume window (joined.resume_within_ms). When
	// it passes, the client ends and Err says why.
	ReconnectTimeout time.Duration
	// ForceRelay sends all media through the TURN servers joined hands out
	// (iceTransportPolicy "relay"), as a client that reaches the SFU no other
	// way would; TURNTransport ("udp" or "tcp", TURNOverUDP or TURNOverTCP),
	// when set, keeps only the TURN URLs reached over that transport.
	ForceRelay    bool
	TURNTransport string
}

// Client is one participant's session with the SFU: one WebSocket and up to
// two peer connections. Its methods are safe for concurrent use.
type Client struct {
	cfg Config
	api *webrtc.API
	log *slog.Logger

	ctx    context.Context // ends when the client ends; stops the writer
	cancel context.CancelFunc

	out     chan []byte       // to the writer goroutine
	events  chan wire.Message // to the user; closed by the reader on exit
	chat    *chat
	dropped atomic.Uint64
	nextID  atomic.Uint64

	sub *peer
	pub *peer

	pubMu sync.Mutex // serialises Publish

	lastHeard atomic.Int64  // Unix ns of the server's last message (liveness.go)
	probe     chan struct{} // asks the liveness watchdog to check now
	// silentDrop: the watchdog dropped the link; resume tries other nodes first.
	silentDrop atomic.Bool

	mu          sync.Mutex
	link        *link                    // the current WebSocket; a resume replaces it
	joined      wire.Joined              // the latest joined or resumed
	home        string                   // the node joined (base URL); a failover changes it
	nodes       []string                 // other nodes to fail over to (joined.nodes, nodes)
	ended       bool                     // no new goroutines once set
	err         error                    // why it ended
	leaving     bool                     // a close by the server is expected
	fatal       *wire.Error              // last fatal error the server sent
	shutdownMsg string                   // reason of server_shutdown, if any
	activeCall  string                   // id of the answered call this device is in
	pubRestart  *time.Timer              // a publisher ICE restart waiting (see watchPeer)
	pending     map[string]chan response // request id → waiter

	wg       sync.WaitGroup
	endOnce  sync.Once
	done     chan struct{}
	closeErr error // from closing the WebSocket and peer connections
}

// response is a server reply routed to the request that carried its id. err
// is set when applying the reply locally failed (e.g. a publisher answer).
type response struct {
	msg wire.Message
	err error
}

// Join dials the SFU, sends join and waits for the joined reply or for ctx to
// end. A refusal by the server returns an error that errors.As to *wire.Error.
func Join(ctx context.Context, cfg Config) (*Client, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	api := cfg.API
	if api == nil {
		var err error
		if api, err = NewAPI(APIOptions{}); err != nil {
			return nil, err
		}
	}
	ws, early, joined, err := dialFollowing(ctx, &cfg, 0)
	if err != nil {
		return nil, err
	}

	cctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		cfg:     cfg,
		api:     api,
		log:     log.With("participant", joined.Joined.ParticipantID, "role", joined.Joined.Role),
		link:    newLink(ws),
		joined:  *joined.Joined,
		home:    cfg.URL,
		nodes:   joined.Joined.Nodes,
		probe:   make(chan struct{}, 1),
		ctx:     cctx,
		cancel:  cancel,
		out:     make(chan []byte, sendQueueLen),
		events:  make(chan wire.Message, eventQueueLen),
		pending: make(map[string]chan response),
		done:    make(chan struct{}),
	}
	c.chat = newChat()
	c.sub = newPeer(c, wire.TargetSubscriber)
	c.pub = newPeer(c, wire.TargetPublisher)
	c.emit(joined)

	c.wg.Add(3)
	go c.writeLoop()
	c.heard()
	go c.readLoop(early)
	go c.keepalive()
	c.log.Debug("joined", "room", joined.Joined.Room)
	return c, nil
}

// Joined returns the server's description of the room at join time (at the
// latest resume, with Config.Resume).
func (c *Client) Joined() wire.Joined {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.joined
}

// Events delivers every server message other than offer, answer and
// candidate (those the SDK handles), in order, starting with joined; with
// Config.Resume also EventReconnecting (made by the SDK) and resumed. It is
// buffered; if the user does not drain it, further events are dropped and
// counted by DroppedEvents so a slow user cannot stall signaling. It is closed
// once the connection ended.
func (c *Client) Events() <-chan wire.Message { return c.events }

// DroppedEvents counts events lost because Events was full.
func (c *Client) DroppedEvents() uint64 { return c.dropped.Load() }

// Subscriber returns the connection the SFU sends media on, or nil until the
// SFU's first offer arrived.
func (c *Client) Subscriber() *webrtc.PeerConnection { return c.sub.conn() }

// Publisher returns the connection Publish created, or nil before Publish.
func (c *Client) Publisher() *webrtc.PeerConnection { return c.pub.conn() }

// Done is closed when the connection ended, whether by Close, Leave, the
// server or a failure; Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err reports why the connection ended: nil while it runs and after Close or
// Leave, a *wire.Error (wrapped) after a fatal server error, ErrServerShutdown
// (wrapped) after server_shutdown, otherwise the transport failure.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Leave tells the server this participant leaves, waits briefly for the
// server to close the connection (so the leave is not lost), then closes
// everything like Close.
func (c *Client) Leave() error {
	c.mu.Lock()
	c.leaving = true
	c.mu.Unlock()
	if err := c.Send(wire.Message{Type: wire.TypeLeave}); err != nil && !errors.Is(err, ErrClosed) {
		c.Close()
		return fmt.Errorf("client: leave: %w", err)
	}
	t := time.NewTimer(leaveTimeout)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		c.log.Warn("server did not close after leave")
	}
	return c.Close()
}

// Close closes the WebSocket and both peer connections and waits for the
// SDK's goroutines to end. It is idempotent. Do not call it from OnTrack or
// OnKeyframeRequest callbacks, whose goroutines it waits for.
func (c *Client) Close() error {
	c.end(nil, true)
	c.wg.Wait()
	return c.closeErr
}

// end tears the client down once; err (nil for a local close) becomes Err.
// graceful closes the WebSocket with a close handshake, which is only worth
// trying while the connection is healthy.
func (c *Client) end(err error, graceful bool) {
	c.endOnce.Do(func() {
		c.mu.Lock()
		c.ended = true
		c.err = err
		for id, ch := range c.pending {
			ch <- response{err: ErrClosed}
			delete(c.pending, id)
		}
		ws := c.link.ws
		c.mu.Unlock()

		var errs []error
		if graceful {
			if err := ws.Close(websocket.StatusNormalClosure, ""); err != nil {
				c.log.Debug("websocket close", "err", err)
			}
		} else {
			_ = ws.CloseNow()
		}
		c.cancel()
		errs = append(errs, c.pub.close(), c.sub.close())
		c.closeErr = errors.Join(errs...)
		if err != nil {
			c.log.Info("connection ended", "err", err)
		}
		close(c.done)
	})
}

// spawn runs f on a goroutine that Close waits for, unless the client already
// ended (then it reports false and does not run f).
func (c *Client) spawn(f func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return false
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
	return true
}

// emit hands a server message to the user without ever blocking the reader.
func (c *Client) emit(m wire.Message) {
	select {
	case c.events <- m:
	default:
		if c.dropped.Add(1) == 1 {
			c.log.Warn("events not drained; dropping", "type", m.Type)
		}
	}
}

// requestThen sends m with a fresh id, calls sent (if not nil) once m is
// queued, and waits for the reply carrying that id. A server error reply is
// returned as a *wire.Error.
func (c *Client) requestThen(ctx context.Context, m wire.Message, sent func()) (wire.Message, error) {
	m.ID = fmt.Sprintf("c%d", c.nextID.Add(1))
	ch := make(chan response, 1)
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return wire.Message{}, ErrClosed
	}
	c.pending[m.ID] = ch
	c.mu.Unlock()
	defer c.unregister(m.ID)

	if err := c.Send(m); err != nil {
		return wire.Message{}, err
	}
	if sent != nil {
		sent()
	}
	select {
	case r := <-ch:
		if r.err != nil {
			return r.msg, r.err
		}
		if r.msg.Type == wire.TypeError && r.msg.Error != nil {
			return r.msg, r.msg.Error
		}
		return r.msg, nil
	case <-ctx.Done():
		return wire.Message{}, ctx.Err()
	}
}

func (c *Client) unregister(id string) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// resolve delivers a reply to the request waiting for its id, if any.
func (c *Client) resolve(m wire.Message, err error) bool {
	if m.ID == "" {
		return false
	}
	c.mu.Lock()
	ch, ok := c.pending[m.ID]
	delete(c.pending, m.ID)
	c.mu.Unlock()
	if ok {
		ch <- response{msg: m, err: err} // buffered, one reply per id
	}
	return ok
}
