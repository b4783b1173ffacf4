package room

import (
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/talkrelay/talkrelay/chat"

	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// Participant is one connected client in a room. Its methods are called by the
// client's signaling connection, one at a time.
type Participant struct {
	id    string
	grant auth.Grant
	room  *Room
	peer  Peer
	sess  *session // peer, in a live room: a session that outlives a dropped connection
	log   *slog.Logger
	// chatAfter is the last chat Seq the client held when it joined (JoinOptions).
	chatAfter uint64
	// clientOffers: a WHIP or WHEP client, which offers and never hears an
	// offer: the server makes it no subscriber of its own (httpsession.go).
	clientOffers bool

	mu  sync.Mutex
	pub *publisher
	// maxHeight is how tall the client shows video (video_size; 0: no limit).
	maxHeight int
	sub       *subscriber
	chat      *chat.Member
	closed    bool
	// dcOpen is whether the chat data channel counts in the open channels gauge.
	dcOpen atomic.Bool
	// topSpeaker, in a group room, is set while the participant is an active
	// speaker: the gate flag of its down tracks (it then hears the speaker
	// after the active ones instead of itself).
	topSpeaker atomic.Bool
}

// ID is the participant's id for this connection.
func (p *Participant) ID() string { return p.id }

// Grant is what the participant's token allows.
func (p *Participant) Grant() auth.Grant { return p.grant }

func (p *Participant) isHost() bool { return p.grant.Role == auth.RoleHost }

// Offer handles the host's publisher offer: the answer (echoing id) and then the
// server's candidates are sent to the host.
func (p *Participant) Offer(id, sdp string) error {
	inCall, inGroup := p.room.kind == kindCallRoom, p.room.kind == kindGroupRoom
	if !p.isHost() && !inCall && !inGroup {
		return wire.Errorf(wire.CodeForbidden, "only the host publishes; a %s cannot", p.grant.Role)
	}
	if err := checkOffer(sdp); err != nil {
		return err
	}
	if inGroup {
		if err := p.room.admitSpeaker(p, sdp); err != nil {
			return err
		}
	}
	if inCall && !p.room.videoAllowed() && sendsVideo(sdp) {
		return wire.Errorf(wire.CodeForbidden, "this is a voice call: switch it to video (call.mode) before sending video")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return wire.Errorf(wire.CodeNoSession, "participant has left")
	}
	if p.pub == nil {
		pub, err := newPublisher(p)
		if err != nil {
			return wire.Errorf(wire.CodeInternal, "cannot create publisher connection")
		}
		p.pub = pub
	}
	return p.pub.offer(id, sdp)
}

// Answer applies the client's answer to the server's subscriber offer.
func (p *Participant) Answer(sdp string) error {
	p.mu.Lock()
	sub := p.sub
	p.mu.Unlock()
	if sub == nil {
		return wire.Errorf(wire.CodeNoSession, "no subscriber connection to answer")
	}
	return sub.answer(sdp)
}

// Candidate adds a trickled ICE candidate to one of the participant's connections.
func (p *Participant) Candidate(t wire.Target, c *wire.Candidate) error {
	if c == nil {
		return wire.Errorf(wire.CodeBadCandidate, "candidate missing")
	}
	init := webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment}
	p.mu.Lock()
	pub, sub := p.pub, p.sub
	p.mu.Unlock()
	switch t {
	case wire.TargetPublisher:
		if pub == nil {
			return wire.Errorf(wire.CodeNoSession, "no publisher connection for this candidate")
		}
		return pub.addCandidate(init)
	case wire.TargetSubscriber:
		if sub == nil {
			return wire.Errorf(wire.CodeNoSession, "no subscriber connection for this candidate")
		}
		return sub.addCandidate(init)
	}
	return wire.Errorf(wire.CodeBadCandidate, "target must be %q or %q", wire.TargetPublisher, wire.TargetSubscriber)
}

// SetMuted turns the host's mic ("audio") or camera ("video") off or on.
func (p *Participant) SetMuted(kind string, muted bool) error {
	if !p.isHost() && p.room.kind == kindLiveRoom {
		return wire.Errorf(wire.CodeForbidden, "only the host mutes its tracks")
	}
	k, ok := kindIndex(kind)
	if !ok {
		return wire.Errorf(wire.CodeBadMessage, "kind must be \"audio\" or \"video\"")
	}
	if p.room.kind == kindGroupRoom {
		if err := p.checkGroupMute(kind); err != nil {
			return err
		}
	}
	p.room.setMuted(p, k, muted)
	return nil
}

// SetVideoSize says how large the client shows video: simulcast layers taller
// than height are not sent to it (when their size is known). 0 lifts the limit.
func (p *Participant) SetVideoSize(width, height int) error {
	if width < 0 || height < 0 || width > 16384 || height > 16384 {
		return wire.Errorf(wire.CodeBadMessage, "video_size needs a width and height from 0 to 16384")
	}
	p.mu.Lock()
	p.maxHeight = height
	sub := p.sub
	p.mu.Unlock()
	if sub != nil {
		sub.setMaxHeight(height)
	}
	return nil
}

// EndLive ends the host's live for everyone.
func (p *Participant) EndLive() error {
	if p.room.kind == kindCallRoom {
		return wire.Errorf(wire.CodeForbidden, "a call ends with call.hangup")
	}
	if !p.isHost() {
		return wire.Errorf(wire.CodeForbidden, "only the host ends the live")
	}
	return p.room.endLiveBy(p)
}

// Leave removes the participant from its room on purpose. A host leaving ends the live.
func (p *Participant) Leave() { p.room.leave(p, true) }

// Disconnected removes a participant whose connection dropped. A host's live
// waits for the host to come back (Config.HostGrace).
func (p *Participant) Disconnected() { p.room.leave(p, false) }

// syncFeeds makes the participant's subscriber carry the room's current feeds,
// creating it on first use. p.mu is held throughout, so concurrent calls apply
// in order and the last one reflects the room as it is.
func (p *Participant) syncFeeds() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	feeds := p.room.feedsFor(p) // nobody receives their own media
	if p.sub == nil {
		if p.clientOffers || (len(feeds) == 0 && p.room.m.cfg.Chat == nil) {
			return // JoinWHEP makes a WHEP viewer's subscriber from its offer
		}
		sub, err := newSubscriber(p)
		if err != nil {
			p.log.Warn("cannot create subscriber", "err", err)
			return
		}
		sub.maxHeight = p.maxHeight
		p.sub = sub
	}
	p.sub.setFeeds(feeds)
}

// closeMedia closes the participant's peer connections.
func (p *Participant) closeMedia() {
	p.mu.Lock()
	p.closed = true
	pub, sub, member := p.pub, p.sub, p.chat
	p.pub, p.sub, p.chat = nil, nil, nil
	p.mu.Unlock()
	p.dataChannelClosed()
	if member != nil {
		member.Leave()
	}
	if sub != nil {
		sub.close()
	}
	if pub != nil {
		pub.close()
	}
}

// closePublisher closes only the host's publisher connection (its live ended).
func (p *Participant) closePublisher() {
	p.mu.Lock()
	pub := p.pub
	p.pub = nil
	p.mu.Unlock()
	if pub != nil {
		pub.close()
	}
}

func kindIndex(kind string) (int, bool) {
	switch kind {
	case "audio":
		return kindAudio, true
	case "video":
		return kindVideo, true
	}
	return 0, false
}

const (
	kindAudio = 0
	kindVideo = 1
)

var kindNames = [2]string{"audio", "video"}
