package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/pion/webrtc/v4"
)

// ChatLabel is the label of the data channel chat travels on. The SFU opens it
// on the subscriber connection of every participant.
const ChatLabel = "chat"

// chatQueueLen bounds the chat messages waiting for the user.
const chatQueueLen = 4096

// ErrChatNotOpen is returned by SendChat before the chat channel is open.
var ErrChatNotOpen = errors.New("client: chat channel not open")

// chat is the participant's chat data channel.
type chat struct {
	mu      sync.Mutex
	dc      *webrtc.DataChannel
	ready   chan struct{} // closed when the channel opens
	once    sync.Once
	in      chan []byte // server messages for the user
	dropped atomic.Uint64
	last    atomic.Uint64 // the newest Seq received (Config.Resume only)
}

func newChat() *chat {
	return &chat{ready: make(chan struct{}), in: make(chan []byte, chatQueueLen)}
}

// onDataChannel adopts the SFU's chat channel.
func (c *Client) onDataChannel(dc *webrtc.DataChannel) {
	if dc.Label() != ChatLabel {
		c.log.Debug("ignoring data channel", "label", dc.Label())
		return
	}
	ch := c.chat
	ch.mu.Lock()
	ch.dc = dc
	ch.mu.Unlock()
	dc.OnOpen(func() { ch.once.Do(func() { close(ch.ready) }) })
	dc.OnMessage(func(m webrtc.DataChannelMessage) {
		if c.cfg.Resume {
			ch.note(m.Data)
		}
		if c.cfg.OnChat != nil {
			c.cfg.OnChat(m.Data)
			return
		}
		select {
		case ch.in <- m.Data:
		default:
			ch.dropped.Add(1)
		}
	})
}

// ChatReady is closed once the chat channel is open.
func (c *Client) ChatReady() <-chan struct{} { return c.chat.ready }

// ChatMessages delivers every message the SFU sends on the chat channel (JSON,
// see signal/PROTOCOL.md), in order. If the user does not drain it, further
// messages are dropped and counted (DroppedChat).
func (c *Client) ChatMessages() <-chan []byte { return c.chat.in }

// DroppedChat counts chat messages dropped because ChatMessages was full.
func (c *Client) DroppedChat() uint64 { return c.chat.dropped.Load() }

// SendChat sends one chat protocol message (JSON text).
func (c *Client) SendChat(b []byte) error {
	c.chat.mu.Lock()
	dc := c.chat.dc
	c.chat.mu.Unlock()
	if dc == nil || dc.ReadyState() != webrtc.DataChannelStateOpen {
		return ErrChatNotOpen
	}
	if err := dc.SendText(string(b)); err != nil {
		return fmt.Errorf("client: send chat: %w", err)
	}
	return nil
}

// note remembers the newest chat Seq a frame brings (a gap counts: the server
// said those are not coming), so that a new session's join continues after it.
func (ch *chat) note(b []byte) {
	var f struct {
		Type     string `json:"type"`
		ID       string `json:"id"`
		To       uint64 `json:"to"`
		Messages []struct {
			Seq uint64 `json:"seq"`
		} `json:"messages"`
	}
	if json.Unmarshal(b, &f) != nil {
		return
	}
	var seq uint64
	switch {
	case f.Type == "messages" && f.ID == "" && len(f.Messages) > 0: // history pages carry an id
		seq = f.Messages[len(f.Messages)-1].Seq
	case f.Type == "gap":
		seq = f.To
	}
	for {
		cur := ch.last.Load()
		if seq <= cur || ch.last.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// lastSeq is the newest chat Seq received, 0 if none (or without Config.Resume).
func (ch *chat) lastSeq() uint64 { return ch.last.Load() }
