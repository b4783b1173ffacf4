package room

import (
	"strings"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/media"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// WHEP viewers. A WHEP client offers once (recvonly audio and video) and has no
// channel on which the server could offer again, so its subscriber is made
// from that offer and keeps its transceivers for the whole session: when the
// room's feeds change (the live's second track arrives, the host changes
// codec) the new feed's down track replaces the transceiver's track in place.
// A transceiver with no feed yet carries an idle track, so it was negotiated
// sendonly and a feed can take it over later without an offer.

// JoinWHEP admits the bearer of g (a viewer) as a WHEP viewer of its room's
// running live, reachable through peer. offer is the client's SDP offer; the
// participant's subscriber answers it (read the answer with LocalAnswer). A
// WHEP viewer counts as a viewer and receives the same feeds as any other;
// it has no chat channel. Errors are *wire.Error: not_live when no live runs,
// bad_sdp or no_usable_codec for an offer we cannot serve, and Join's.
func (m *Manager) JoinWHEP(g auth.Grant, peer Peer, offer string) (*Participant, error) {
	if g.Role != auth.RoleViewer {
		return nil, wire.Errorf(wire.CodeForbidden, "WHEP needs a viewer token, not %s", g.Role)
	}
	kinds, err := whepKinds(offer)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	closed := m.closed
	m.mu.Unlock()
	if closed {
		return nil, &wire.Error{Code: wire.CodeUnavailable, Message: "server is shutting down"}
	}
	if !m.liveRunning(g.Room) {
		return nil, wire.Errorf(wire.CodeNotLive, "no live is running in this room yet")
	}
	pc, err := m.cfg.Engine.NewSubscriberPC()
	if err != nil {
		return nil, wire.Errorf(wire.CodeInternal, "cannot create a connection")
	}
	// The offer is checked by WebRTC before anyone sees the viewer join.
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		_ = pc.Close()
		return nil, wire.Errorf(wire.CodeBadSDP, "offer rejected: %v", trimErr(err))
	}
	slots, err := newWHEPSlots(pc, kinds, g.Room)
	if err != nil {
		_ = pc.Close()
		return nil, err
	}
	p, err := m.join(g, peer, JoinOptions{clientOffers: true})
	if err != nil {
		_ = pc.Close()
		return nil, err
	}
	s := &subscriber{p: p, pc: pc, tracks: map[*media.Feed]*subTrack{}, whep: slots}
	pc.OnConnectionStateChange(s.whepStateChanged)
	p.mu.Lock()
	if p.closed { // replaced or kicked as it joined
		p.mu.Unlock()
		s.close()
		return nil, wire.Errorf(wire.CodeNoSession, "the session ended as it began")
	}
	p.sub = s
	p.mu.Unlock()
	p.syncFeeds()
	if !s.carriesFeed() { // the live ended as the viewer joined, or has none of its kinds yet
		p.Leave()
		return nil, wire.Errorf(wire.CodeNotLive, "nothing the offer receives is live yet")
	}
	if err := s.answerWHEP(); err != nil {
		p.Leave()
		return nil, err
	}
	return p, nil
}

func (m *Manager) liveRunning(name string) bool {
	info, ok := m.Room(name)
	return ok && info.Live != nil
}

// whepKinds returns the kinds (audio, video) a WHEP offer receives: the first
// section of each kind that is recvonly or sendrecv and lists a codec we send.
func whepKinds(raw string) ([]webrtc.RTPCodecType, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, wire.Errorf(wire.CodeBadSDP, "offer is empty")
	}
	var d sdp.SessionDescription
	if err := d.UnmarshalString(raw); err != nil {
		return nil, wire.Errorf(wire.CodeBadSDP, "offer does not parse: %v", err)
	}
	var kinds []webrtc.RTPCodecType
	for _, m := range d.MediaDescriptions {
		kind := webrtc.NewRTPCodecType(m.MediaName.Media)
		if kind == 0 || m.MediaName.Port.Value == 0 || !usable(m) || containsKind(kinds, kind) {
			continue
		}
		receives := true
		for _, a := range m.Attributes {
			if a.Key == "sendonly" || a.Key == "inactive" {
				receives = false
			}
		}
		if receives {
			kinds = append(kinds, kind)
		}
	}
	if len(kinds) == 0 {
		return nil, wire.Errorf(wire.CodeNoUsableCodec, "offer receives no audio (Opus) or video (VP8, H.264): a WHEP offer is recvonly")
	}
	return kinds, nil
}

func containsKind(kinds []webrtc.RTPCodecType, k webrtc.RTPCodecType) bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}

// whepSlots are a WHEP subscriber's transceivers, one per kind its offer
// receives, and its connection-state listener. Guarded by subscriber.mu.
type whepSlots struct {
	slots   []*whepSlot
	onState func(webrtc.PeerConnectionState)
}

// whepSlot is one transceiver of a WHEP subscriber and what it carries now.
type whepSlot struct {
	kind   webrtc.RTPCodecType
	sender *webrtc.RTPSender
	idle   *idleTrack
	down   *media.DownTrack // nil while idle
	rtcp   *rtcpRelay
}

// newWHEPSlots puts an idle track on the offer's transceiver of each kind.
func newWHEPSlots(pc *webrtc.PeerConnection, kinds []webrtc.RTPCodecType, stream string) (*whepSlots, error) {
	w := &whepSlots{}
	for _, kind := range kinds {
		idle := &idleTrack{kind: kind, stream: stream}
		sender, err := pc.AddTrack(idle)
		if err != nil {
			return nil, wire.Errorf(wire.CodeBadSDP, "cannot send %s on this offer: %v", kind, trimErr(err))
		}
		if !offered(pc, sender) {
			// AddTrack made a transceiver of its own: the offer's could not send.
			return nil, wire.Errorf(wire.CodeNoUsableCodec, "offer's %s section cannot receive", kind)
		}
		sl := &whepSlot{kind: kind, sender: sender, idle: idle, rtcp: &rtcpRelay{}}
		// RTCP reader: owned by the slot, ends when the sender stops (the
		// connection closes); it hands feedback to the slot's down track.
		go sl.rtcp.run(sender)
		w.slots = append(w.slots, sl)
	}
	return w, nil
}

// offered reports whether sender sits on a transceiver of the remote offer.
func offered(pc *webrtc.PeerConnection, sender *webrtc.RTPSender) bool {
	for _, tr := range pc.GetTransceivers() {
		if tr.Sender() == sender {
			return tr.Mid() != ""
		}
	}
	return false
}

// setWHEPFeeds makes each slot carry the feed of its kind, or its idle track.
func (s *subscriber) setWHEPFeeds(feeds []*media.Feed) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	var gone []*media.DownTrack
	for _, sl := range s.whep.slots {
		var want *media.Feed
		for _, f := range feeds {
			if f.Kind() == sl.kind {
				want = f
				break
			}
		}
		if sl.down != nil && sl.down.Feed() == want {
			continue
		}
		if sl.down == nil && want == nil {
			continue
		}
		var next *media.DownTrack
		if want != nil {
			next = s.p.room.m.cfg.Engine.NewDownTrack(want, s.pc)
			next.SetMaxHeight(s.maxHeight)
			if err := sl.sender.ReplaceTrack(next); err != nil {
				s.p.log.Warn("whep: feed's codec not negotiated", "kind", sl.kind, "codec", want.Codec().MimeType, "err", err)
				next = nil
			}
		}
		if next == nil {
			if err := sl.sender.ReplaceTrack(sl.idle); err != nil {
				s.p.log.Warn("whep: idle track", "err", err)
			}
		}
		if old := sl.down; old != nil {
			if t := s.tracks[old.Feed()]; t != nil && t.active {
				gone = append(gone, old)
			}
			delete(s.tracks, old.Feed())
		}
		sl.down = next
		if next != nil {
			s.tracks[want] = &subTrack{down: next, sender: sl.sender}
		}
		sl.rtcp.setTarget(next)
	}
	s.activateLocked()
	s.mu.Unlock()
	for _, d := range gone {
		d.Feed().RemoveDownTrack(d)
	}
}

// carriesFeed reports whether a WHEP subscriber carries any feed.
func (s *subscriber) carriesFeed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sl := range s.whep.slots {
		if sl.down != nil {
			return true
		}
	}
	return false
}

// answerWHEP answers the offer the subscriber was made from.
func (s *subscriber) answerWHEP() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.answerLocked()
}

// reofferWHEP applies a new offer of the client (an ICE restart) and answers it.
func (s *subscriber) reofferWHEP(offer string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return wire.Errorf(wire.CodeNoSession, "the connection has closed")
	}
	if err := s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return wire.Errorf(wire.CodeBadSDP, "offer rejected: %v", trimErr(err))
	}
	return s.answerLocked()
}

func (s *subscriber) answerLocked() error {
	answer, err := s.pc.CreateAnswer(nil)
	if err == nil {
		err = s.pc.SetLocalDescription(answer)
	}
	if err != nil {
		return wire.Errorf(wire.CodeBadSDP, "cannot answer the offer: %v", trimErr(err))
	}
	return nil
}

func (s *subscriber) whepStateChanged(st webrtc.PeerConnectionState) {
	s.mu.Lock()
	if st == webrtc.PeerConnectionStateConnected {
		s.connected = true
		s.activateLocked()
	}
	fn := s.whep.onState
	s.mu.Unlock()
	if fn != nil {
		fn(st)
	}
}

// idleTrack stands in a WHEP transceiver that has no feed: it binds to the
// first negotiated codec and never writes.
type idleTrack struct {
	kind   webrtc.RTPCodecType
	stream string
}

func (t *idleTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	if c := ctx.CodecParameters(); len(c) > 0 {
		return c[0], nil
	}
	return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
}

func (t *idleTrack) Unbind(webrtc.TrackLocalContext) error { return nil }
func (t *idleTrack) ID() string                            { return t.kind.String() }
func (t *idleTrack) RID() string                           { return "" }
func (t *idleTrack) StreamID() string                      { return t.stream }
func (t *idleTrack) Kind() webrtc.RTPCodecType             { return t.kind }
