package room

import (
	"context"
	"errors"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/chat"
)

// chatLabel is the data channel chat travels on (see signal/PROTOCOL.md).
const chatLabel = "chat"

// chatRequestTimeout bounds one chat request, so a stuck store answers
// store_failed instead of holding the channel.
const chatRequestTimeout = 5 * time.Second

// chatLowWater is where a held-back chat recipient counts as drained.
const chatLowWater = 64 << 10

// openChat creates the participant's chat data channel on pc; once the client
// opens it, the participant joins the room's chat.
func (p *Participant) openChat(pc *webrtc.PeerConnection) error {
	hub := p.room.m.cfg.Chat
	ordered := true
	dc, err := pc.CreateDataChannel(chatLabel, &webrtc.DataChannelInit{Ordered: &ordered})
	if err != nil {
		return err
	}
	// The client may send as soon as its side opens, before our OnOpen has joined
	// the hub: messages wait for the join (in order: pion calls OnMessage serially).
	joined := make(chan struct{})
	dc.OnOpen(func() {
		defer close(joined)
		if p.dcOpen.CompareAndSwap(false, true) {
			p.room.m.cfg.Metrics.DataChannels.Inc()
		}
		ctx, cancel := context.WithTimeout(context.Background(), chatRequestTimeout)
		defer cancel()
		who := chat.Participant{Identity: p.grant.Identity, Name: p.grant.Name, Host: p.isHost()}
		member, err := hub.JoinAfter(ctx, p.room.name, who, dcRecipient{dc}, p.chatAfter)
		if err != nil {
			if !errors.Is(err, chat.ErrBanned) {
				p.log.Warn("join chat", "err", err)
			}
			_ = dc.Close()
			return
		}
		p.mu.Lock()
		if p.closed || p.chat != nil {
			p.mu.Unlock()
			member.Leave()
			return
		}
		p.chat = member
		p.mu.Unlock()
		dc.SetBufferedAmountLowThreshold(chatLowWater)
		dc.OnBufferedAmountLow(member.Drained)
	})
	dc.OnMessage(func(m webrtc.DataChannelMessage) {
		select {
		case <-joined:
		case <-time.After(chatRequestTimeout):
			return
		}
		p.mu.Lock()
		member := p.chat
		p.mu.Unlock()
		if member == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), chatRequestTimeout)
		defer cancel()
		_ = member.Handle(ctx, m.Data) // errors already went back to the client
	})
	dc.OnClose(func() {
		p.dataChannelClosed()
		p.mu.Lock()
		member := p.chat
		p.chat = nil
		p.mu.Unlock()
		if member != nil {
			member.Leave()
		}
	})
	return nil
}

// dataChannelClosed takes the participant's chat channel out of the gauge, once,
// whichever of the channel's close or the participant's departure comes first.
func (p *Participant) dataChannelClosed() {
	if p.dcOpen.CompareAndSwap(true, false) {
		p.room.m.cfg.Metrics.DataChannels.Dec()
	}
}

// dcRecipient adapts a data channel to the chat hub: text messages, and the
// SCTP send buffer as the hub's measure of a slow recipient.
type dcRecipient struct{ dc *webrtc.DataChannel }

func (r dcRecipient) Send(b []byte) error { return r.dc.SendText(string(b)) }

func (r dcRecipient) Buffered() uint64 { return r.dc.BufferedAmount() }
