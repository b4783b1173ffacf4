package room

import (
	"fmt"
	"slices"
	"time"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/media"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// Group voice rooms: every participant may publish its microphone, up to
// Config.MaxSpeakers of them (later ones listen); each participant receives
// every other speaker's audio track, but only the active speakers' packets
// flow (see speakers.go). The host moderates: it mutes and removes others.

// DefaultMaxSpeakers is how many participants of a group room may speak
// unless Config.MaxSpeakers says otherwise.
const DefaultMaxSpeakers = 50

// group is what a group room holds beyond a Room's fields, guarded by the
// room's mu.
type group struct {
	sel     *speakerSelector
	hands   map[string]bool // identities whose hand is raised
	levels  []speakerLevel  // a selection round's candidates (scratch)
	stop    chan struct{}   // closed when the room closes: ends the selector
	stopped bool
}

// kindOf is the kind of room g asks for.
func kindOf(g auth.Grant) roomKind {
	if g.RoomType == auth.RoomTypeGroup {
		return kindGroupRoom
	}
	return kindLiveRoom
}

// kindName names a room kind for people.
func kindName(k roomKind) string {
	switch k {
	case kindCallRoom:
		return "call"
	case kindGroupRoom:
		return auth.RoomTypeGroup
	}
	return auth.RoomTypeLive
}

// newRoomOfKind opens a live or group room; a group room's speaker selector
// starts with it.
func newRoomOfKind(m *Manager, name string, kind roomKind) *Room {
	r := newRoom(m, name, kind)
	if kind == kindGroupRoom {
		r.group = &group{sel: newSpeakerSelector(), hands: map[string]bool{}, stop: make(chan struct{})}
		// Speaker selector: owned by the room, ends when the room closes (stopGroupLocked).
		go r.selectSpeakers(r.group.stop)
	}
	return r
}

// wrongKind is the refusal of a token asking for another kind of room than
// the one open under its name.
func wrongKind(r *Room, g auth.Grant) *wire.Error {
	want := g.RoomType
	if want == "" {
		want = auth.RoomTypeLive
	}
	return &wire.Error{Code: wire.CodeWrongRoomType, Fatal: true,
		Message: fmt.Sprintf("room %q is a %s room; this token is for a %s room", r.name, kindName(r.kind), want)}
}

// stopGroupLocked ends a closing group room's selector.
func (r *Room) stopGroupLocked() {
	if r.group != nil && !r.group.stopped {
		r.group.stopped = true
		close(r.group.stop)
	}
}

func (r *Room) selectSpeakers(stop <-chan struct{}) {
	t := time.NewTicker(speakerTick)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			r.selectRound(now)
		}
	}
}

// selectRound picks the active speakers by loudness at now and gates each
// speaker's feed: the active ones flow to everyone, the next one only to the
// active speakers (who do not hear themselves), the others to nobody. A
// change of the active set is broadcast.
func (r *Room) selectRound(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	g := r.group
	g.levels = g.levels[:0]
	for id, src := range r.sources {
		if f := src.feeds[kindAudio]; f != nil {
			g.levels = append(g.levels, speakerLevel{identity: id, loudness: f.Loudness(now), eligible: !src.muted[kindAudio]})
		}
	}
	changed := g.sel.update(g.levels)
	for id, src := range r.sources {
		f := src.feeds[kindAudio]
		switch {
		case f == nil:
		case g.sel.isActive(id):
			f.SetGate(media.GateOpen)
		case id == g.sel.next:
			f.SetGate(media.GateFlagged)
		default:
			f.SetGate(media.GateClosed)
		}
	}
	if changed {
		for _, q := range r.participants {
			q.topSpeaker.Store(g.sel.isActive(q.grant.Identity))
		}
		r.broadcastLocked(wire.Message{Type: wire.TypeActiveSpeakers, Speakers: slices.Clone(g.sel.active)})
	}
}

// groupJoinedLocked brings a newcomer up to date, right after its joined:
// who is muted, whose hand is up, who speaks.
func (r *Room) groupJoinedLocked(p *Participant) {
	g := r.group
	if g == nil {
		return
	}
	p.topSpeaker.Store(g.sel.isActive(p.grant.Identity))
	for id, src := range r.sources {
		if src.muted[kindAudio] {
			p.peer.Send(wire.Message{Type: wire.TypeTrackMuted, Kind: kindNames[kindAudio], Muted: wire.Bool(true), Identity: id})
		}
	}
	for id := range g.hands {
		p.peer.Send(wire.Message{Type: wire.TypeHandRaised, Identity: id, Raised: wire.Bool(true)})
	}
	if len(g.sel.active) > 0 {
		p.peer.Send(wire.Message{Type: wire.TypeActiveSpeakers, Speakers: slices.Clone(g.sel.active)})
	}
}

// groupLeftLocked handles p's leaving a group room (p is out of the
// participants already). Unless its identity is still there on another
// connection, its hand comes down and its feeds end; the returned function,
// run without the lock, renegotiates the others and closes the feeds.
func (r *Room) groupLeftLocked(p *Participant) func() {
	if p == r.host {
		r.host = nil
		r.hostIdentity = ""
	}
	id := p.grant.Identity
	for _, q := range r.participants {
		if q.grant.Identity == id {
			return nil
		}
	}
	if r.group.hands[id] {
		delete(r.group.hands, id)
		r.broadcastLocked(wire.Message{Type: wire.TypeHandRaised, Identity: id, Raised: wire.Bool(false)})
	}
	src := r.sources[id]
	if src == nil {
		return nil
	}
	delete(r.sources, id)
	others := r.othersLocked(nil)
	return func() {
		for _, q := range others {
			q.syncFeeds()
		}
		src.closeFeeds()
	}
}

// admitSpeaker gives p one of the room's speaker places, if it has none yet
// and one is free, before its publisher offer is applied. Group rooms carry
// voice only.
func (r *Room) admitSpeaker(p *Participant, sdp string) error {
	if sendsVideo(sdp) {
		return wire.Errorf(wire.CodeForbidden, "a group room carries voice only: offer audio alone")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.participants[p.id] != p {
		return wire.Errorf(wire.CodeNoSession, "participant has left")
	}
	if r.sources[p.grant.Identity] != nil {
		return nil
	}
	if limit := r.m.cfg.MaxSpeakers; len(r.sources) >= limit {
		return wire.Errorf(wire.CodeForbidden, "this room has its %d speakers: listen, and raise your hand to ask to speak", limit)
	}
	r.sourceLocked(p.grant.Identity)
	return nil
}

// speaking reports whether p holds a speaker place.
func (r *Room) speaking(p *Participant) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.canPublishLocked(p)
}

// checkGroupMute refuses a mute a group room does not take: of video, or by
// a participant who is not speaking.
func (p *Participant) checkGroupMute(kind string) error {
	if kind == kindNames[kindVideo] {
		return wire.Errorf(wire.CodeBadMessage, "a group room carries voice only: mute \"audio\"")
	}
	if !p.room.speaking(p) {
		return wire.Errorf(wire.CodeForbidden, "only speakers mute their microphone: publish audio first")
	}
	return nil
}

// RaiseHand raises or lowers the participant's hand in a group room;
// everyone hears of it (hand_raised). The host may lower another's hand by
// naming it (identity); otherwise identity is empty or the participant's own.
func (p *Participant) RaiseHand(identity string, raised bool) error {
	r := p.room
	if r.kind != kindGroupRoom {
		return wire.Errorf(wire.CodeForbidden, "hands are raised in group rooms only")
	}
	target := p.grant.Identity
	if identity != "" && identity != target {
		if !p.isHost() || raised {
			return wire.Errorf(wire.CodeForbidden, "only the host lowers another's hand")
		}
		target = identity
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.participants[p.id] != p {
		return wire.Errorf(wire.CodeNoSession, "participant has left")
	}
	if r.group.hands[target] == raised {
		return nil
	}
	if raised {
		r.group.hands[target] = true
	} else {
		delete(r.group.hands, target)
	}
	r.broadcastLocked(wire.Message{Type: wire.TypeHandRaised, Identity: target, Raised: wire.Bool(raised)})
	return nil
}

// MuteParticipant is the host muting a speaker of its group room: the
// server stops forwarding the speaker's microphone and everyone, the speaker
// included, receives track_muted. The speaker may unmute itself.
func (p *Participant) MuteParticipant(identity string) error {
	r := p.room
	if err := p.checkModerator(); err != nil {
		return err
	}
	r.mu.Lock()
	src := r.sources[identity]
	if src == nil {
		r.mu.Unlock()
		return wire.Errorf(wire.CodeNoSuchParticipant, "%q is not speaking in this room", identity)
	}
	if src.muted[kindAudio] {
		r.mu.Unlock()
		return nil
	}
	src.muted[kindAudio] = true
	f := src.feeds[kindAudio]
	r.broadcastLocked(wire.Message{Type: wire.TypeTrackMuted, Kind: kindNames[kindAudio], Muted: wire.Bool(true), Identity: identity})
	r.mu.Unlock()
	if f != nil {
		f.SetMuted(true)
	}
	p.log.Info("muted a speaker", "target", identity)
	return nil
}

// RemoveParticipant is the host removing someone from its group room: its
// connections close with kicked. It may join again (a ban is chat's ban).
func (p *Participant) RemoveParticipant(identity string) error {
	if err := p.checkModerator(); err != nil {
		return err
	}
	if identity == p.grant.Identity {
		return wire.Errorf(wire.CodeBadMessage, "the host leaves with leave, not by removing itself")
	}
	targets := p.room.withIdentity(identity)
	if len(targets) == 0 {
		return wire.Errorf(wire.CodeNoSuchParticipant, "%q is not in this room", identity)
	}
	for _, q := range targets {
		q.peer.Close(&wire.Error{Code: wire.CodeKicked, Message: "removed from the room by the host", Fatal: true})
	}
	p.log.Info("removed a participant", "target", identity)
	return nil
}

// checkModerator refuses host controls outside a group room or to others
// than its host.
func (p *Participant) checkModerator() error {
	if p.room.kind != kindGroupRoom {
		return wire.Errorf(wire.CodeForbidden, "muting and removing others are host controls of group rooms")
	}
	if !p.isHost() {
		return wire.Errorf(wire.CodeForbidden, "only the host mutes or removes others")
	}
	return nil
}
