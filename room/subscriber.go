package room

import (
	"fmt"
	"sync"

	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/media"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// subscriber is the peer connection the server offers to a participant to send it
// the room's feeds. Renegotiation is serialized: while an offer waits for its
// answer, further changes set a flag and are offered after.
type subscriber struct {
	p  *Participant
	pc *webrtc.PeerConnection

	mu        sync.Mutex
	tracks    map[*media.Feed]*subTrack
	offering  bool // an offer is out, waiting for the answer
	again     bool // something changed while offering
	connected bool
	pending   []webrtc.ICECandidateInit // candidates that came before the remote description
	closed    bool
	fresh     bool // nothing offered yet: the first setFeeds offers even without tracks (chat)
	maxHeight int  // how tall the client shows video (0: no limit), for simulcast layers

	ice iceRestart // see icerestart.go
	// whep, for a WHEP viewer, holds the transceivers its offer asked for:
	// feeds change by replacing their tracks, never by an offer (whep.go).
	whep *whepSlots
}

type subTrack struct {
	down   *media.DownTrack
	sender *webrtc.RTPSender
	active bool // added to the feed's workers
}

func newSubscriber(p *Participant) (*subscriber, error) {
	pc, err := p.room.m.cfg.Engine.NewSubscriberPC()
	if err != nil {
		return nil, err
	}
	s := &subscriber{p: p, pc: pc, tracks: map[*media.Feed]*subTrack{}, fresh: true}
	if p.room.m.cfg.Chat != nil {
		if err := p.openChat(pc); err != nil {
			_ = pc.Close()
			return nil, err
		}
	}
	// Candidates gather while negotiateLocked holds s.mu, so taking it here
	// orders each candidate after the offer it belongs to.
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		s.mu.Lock()
		p.peer.Send(candidateMessage(wire.TargetSubscriber, c.ToJSON()))
		s.mu.Unlock()
	})
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		s.watchICE(st)
		if st == webrtc.PeerConnectionStateConnected {
			s.mu.Lock()
			s.connected = true
			s.activateLocked()
			s.mu.Unlock()
		}
	})
	return s, nil
}

// setFeeds makes the subscriber carry exactly feeds, adding and removing down
// tracks, and renegotiates if anything changed.
func (s *subscriber) setFeeds(feeds []*media.Feed) {
	if s.whep != nil {
		s.setWHEPFeeds(feeds)
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	want := map[*media.Feed]bool{}
	changed := false
	for _, f := range feeds {
		want[f] = true
		if _, ok := s.tracks[f]; ok {
			continue
		}
		dt := s.p.room.m.cfg.Engine.NewDownTrack(f, s.pc)
		dt.SetMaxHeight(s.maxHeight)
		dt.SetGateFlag(&s.p.topSpeaker) // group rooms: see selectRound
		tr, err := s.pc.AddTransceiverFromTrack(dt, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			s.p.log.Warn("add down track", "err", err)
			continue
		}
		sender := tr.Sender()
		// RTCP reader: owned by the down track, ends when the sender stops.
		go dt.ServeRTCP(sender)
		s.tracks[f] = &subTrack{down: dt, sender: sender}
		changed = true
	}
	var gone []*subTrack
	for f, t := range s.tracks {
		if !want[f] {
			gone = append(gone, t)
			delete(s.tracks, f)
			_ = s.pc.RemoveTrack(t.sender)
			changed = true
		}
	}
	if changed || s.fresh {
		s.fresh = false
		s.negotiateLocked()
	}
	s.mu.Unlock()
	for _, t := range gone {
		t.down.Feed().RemoveDownTrack(t.down)
	}
}

func (s *subscriber) negotiateLocked() {
	if s.offering {
		s.again = true
		return
	}
	offer, err := s.pc.CreateOffer(s.offerOptionsLocked())
	if err == nil {
		err = s.pc.SetLocalDescription(offer)
	}
	if err != nil {
		s.p.log.Warn("subscriber offer", "err", err)
		return
	}
	s.offering = true
	s.p.peer.Send(wire.Message{Type: wire.TypeOffer, SDP: offer.SDP})
}

// answer applies the client's answer, then starts forwarding to the tracks it accepted.
func (s *subscriber) answer(sdp string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.offering {
		return wire.Errorf(wire.CodeBadSDP, "no subscriber offer is waiting for an answer")
	}
	err := s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp})
	if err != nil {
		return wire.Errorf(wire.CodeBadSDP, "subscriber answer rejected: %v", trimErr(err))
	}
	s.offering = false
	for _, c := range s.pending {
		_ = s.pc.AddICECandidate(c)
	}
	s.pending = nil
	s.activateLocked()
	if s.again {
		s.again = false
		s.negotiateLocked()
	}
	return nil
}

func (s *subscriber) addCandidate(c webrtc.ICECandidateInit) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pc.RemoteDescription() == nil {
		if len(s.pending) >= maxPendingCandidates {
			return wire.Errorf(wire.CodeBadCandidate, "too many candidates before the answer")
		}
		s.pending = append(s.pending, c)
		return nil
	}
	if err := s.pc.AddICECandidate(c); err != nil {
		return wire.Errorf(wire.CodeBadCandidate, "candidate rejected: %v", trimErr(err))
	}
	return nil
}

// activateLocked hands bound down tracks to their feeds once DTLS is up: writes
// before then would be dropped, and the late-joiner keyframe with them.
func (s *subscriber) activateLocked() {
	if !s.connected {
		return
	}
	for f, t := range s.tracks {
		if !t.active && t.down.Bound() {
			t.active = true
			f.AddDownTrack(t.down)
		}
	}
}

func (s *subscriber) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	tracks := s.tracks
	s.tracks = nil
	s.mu.Unlock()
	for f, t := range tracks {
		f.RemoveDownTrack(t.down)
	}
	if err := s.pc.Close(); err != nil {
		s.p.log.Debug("close subscriber", "err", fmt.Sprint(err))
	}
}

const maxPendingCandidates = 64

func candidateMessage(t wire.Target, c webrtc.ICECandidateInit) wire.Message {
	return wire.Message{Type: wire.TypeCandidate, Target: t, Candidate: &wire.Candidate{
		Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment,
	}}
}

// setMaxHeight limits the simulcast layers sent to the client to those at most
// height pixels tall (0: no limit).
func (s *subscriber) setMaxHeight(height int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxHeight = height
	for _, t := range s.tracks {
		t.down.SetMaxHeight(height)
	}
}
