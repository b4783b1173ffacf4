package room

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/media"
	"github.com/talkrelay/talkrelay/signal/wire"
)

var errRoomClosed = errors.New("room: closed")

// Room is one live room: at most one host, any number of viewers, and the host's
// audio and video feeds, which outlive a host reconnect.
type Room struct {
	name string
	m    *Manager

	mu           sync.Mutex
	participants map[string]*Participant
	viewers      int
	host         *Participant
	hostIdentity string // who owns the room's live: set while a host is connected or its live runs
	live         *live
	feeds        [2]*media.Feed
	muted        [2]bool
	graceTimer   *time.Timer
	countSent    int
	countSentAt  time.Time
	countTimer   *time.Timer
	closed       bool
}

func newRoom(m *Manager, name string) *Room {
	return &Room{name: name, m: m, participants: map[string]*Participant{}}
}

func (r *Room) join(g auth.Grant, peer Peer, joinID string) (*Participant, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, errRoomClosed
	}
	isHost := g.Role == auth.RoleHost
	if isHost && r.hostIdentity != "" && r.hostIdentity != g.Identity {
		r.mu.Unlock()
		return nil, &wire.Error{Code: wire.CodeLiveInProgress, Message: "another host holds this room", Fatal: true}
	}
	// The same identity joining again is a reconnect: the new connection replaces
	// the old without a second "joined" count.
	var replaced *Participant
	for _, q := range r.participants {
		if q.grant.Identity == g.Identity && q.grant.Role == g.Role {
			replaced = q
		}
	}
	if replaced == nil && len(r.participants) >= r.m.cfg.MaxParticipants {
		r.mu.Unlock()
		return nil, &wire.Error{Code: wire.CodeServerFull, Message: "this room is full", Fatal: true}
	}
	if replaced != nil {
		delete(r.participants, replaced.id) // the new connection takes its place in the count
	}
	p := &Participant{id: newID("PA_"), grant: g, room: r, peer: peer}
	p.log = r.m.log.With("room", r.name, "participant", p.id, "identity", g.Identity, "role", string(g.Role))
	r.participants[p.id] = p
	if isHost {
		r.host = p
		r.hostIdentity = g.Identity
		if r.graceTimer != nil {
			r.graceTimer.Stop()
			r.graceTimer = nil
		}
	} else if replaced == nil {
		r.viewers++
		if r.live != nil && r.viewers > r.live.peak {
			r.live.peak = r.viewers
		}
	}
	j := &wire.Joined{
		Room: r.name, Identity: g.Identity, Name: g.Name, Role: string(g.Role), ParticipantID: p.id,
		ViewerCount: r.viewers, Muted: wire.MuteState{Audio: r.muted[kindAudio], Video: r.muted[kindVideo]},
	}
	if r.live != nil {
		j.Live = r.live.wire()
	}
	peer.Send(wire.Message{Type: wire.TypeJoined, ID: joinID, Joined: j})
	if !isHost && replaced == nil {
		r.countChangedLocked() // after joined: a client's first message is always joined
	}
	r.mu.Unlock()

	if replaced != nil {
		replaced.peer.Close(&wire.Error{Code: wire.CodeReplaced, Message: "the same identity joined on another connection", Fatal: true})
		replaced.closeMedia()
	}
	p.syncFeeds()
	p.log.Info("joined")
	return p, nil
}

// removeLocked takes p out of the room's membership.
func (r *Room) removeLocked(p *Participant) {
	delete(r.participants, p.id)
	if p.grant.Role == auth.RoleViewer {
		r.viewers--
		r.countChangedLocked()
	}
}

func (r *Room) leave(p *Participant, onPurpose bool) {
	r.mu.Lock()
	if r.participants[p.id] != p {
		r.mu.Unlock()
		return
	}
	r.removeLocked(p)
	var cleanup func()
	if p == r.host {
		r.host = nil
		switch {
		case r.live != nil && onPurpose:
			cleanup = r.endLiveLocked(wire.EndHostLeft)
		case r.live != nil:
			r.graceTimer = time.AfterFunc(r.m.cfg.HostGrace, r.hostGraceExpired)
		default:
			r.hostIdentity = ""
			r.muted = [2]bool{} // the next host starts with mic and camera on
		}
	}
	empty := r.closeIfEmptyLocked()
	r.mu.Unlock()
	if cleanup != nil {
		cleanup()
	}
	p.closeMedia()
	if empty {
		r.m.removeRoom(r)
	}
	p.log.Info("left", "on_purpose", onPurpose)
}

func (r *Room) hostGraceExpired() {
	r.mu.Lock()
	if r.host != nil || r.live == nil || r.closed {
		r.mu.Unlock()
		return
	}
	r.graceTimer = nil
	cleanup := r.endLiveLocked(wire.EndHostLeft)
	empty := r.closeIfEmptyLocked()
	r.mu.Unlock()
	cleanup()
	if empty {
		r.m.removeRoom(r)
	}
}

func (r *Room) closeIfEmptyLocked() bool {
	if len(r.participants) > 0 || r.live != nil || r.closed {
		return false
	}
	r.closed = true
	if r.countTimer != nil {
		r.countTimer.Stop()
	}
	return true
}

// publish attaches a track the host's connection received. A feed of the same
// codec continues (viewers see one stream across a host reconnect); a new codec
// gets a new feed and renegotiates the viewers.
func (r *Room) publish(p *Participant, kind int, t *webrtc.TrackRemote, recv *webrtc.RTPReceiver, pli func()) {
	codec, ok := canonicalCodec(t.Codec())
	if !ok {
		p.log.Warn("published codec not forwardable", "mime", t.Codec().MimeType)
		return
	}
	r.mu.Lock()
	if p != r.host || r.closed {
		r.mu.Unlock()
		return
	}
	f := r.feeds[kind]
	var old *media.Feed
	if f == nil || !strings.EqualFold(f.Codec().MimeType, codec.MimeType) {
		old = f
		f = r.m.cfg.Engine.NewFeed(media.FeedConfig{
			TrackID: kindNames[kind], StreamID: r.name, Codec: codec,
			Workers: r.m.cfg.FeedWorkers, Logger: p.log,
		})
		f.SetMuted(r.muted[kind])
		r.feeds[kind] = f
	}
	started := r.live == nil
	if started {
		r.live = &live{id: newID("LV_"), host: p.grant.Identity, hostName: p.grant.Name, started: time.Now(), peak: r.viewers}
		r.broadcastLocked(wire.Message{Type: wire.TypeLiveStarted, Live: r.live.wire()})
		r.m.cfg.Metrics.LivesStarted.Inc()
	}
	viewers := r.viewerListLocked()
	r.mu.Unlock()
	if started {
		r.system(p.grant.Name + " started a live talk")
	}

	f.Attach(t, recv, pli)
	f.RequestKeyframe()
	if old != nil || len(viewers) > 0 {
		for _, v := range viewers {
			v.syncFeeds()
		}
	}
	if old != nil {
		old.Close()
	}
	p.log.Info("published", "kind", kindNames[kind], "codec", codec.MimeType)
}

func canonicalCodec(c webrtc.RTPCodecParameters) (webrtc.RTPCodecParameters, bool) {
	for _, k := range media.Codecs() {
		if strings.EqualFold(k.MimeType, c.MimeType) {
			return k, true
		}
	}
	return webrtc.RTPCodecParameters{}, false
}

// withIdentity returns the room's participants with that identity.
func (r *Room) withIdentity(identity string) []*Participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*Participant
	for _, q := range r.participants {
		if q.grant.Identity == identity {
			out = append(out, q)
		}
	}
	return out
}

// system posts a system message to the room's chat.
func (r *Room) system(text string) {
	hub := r.m.cfg.Chat
	if hub == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := hub.System(ctx, r.name, text); err != nil {
		r.m.log.Warn("chat system message", "room", r.name, "err", err)
	}
}

func (r *Room) currentFeeds() []*media.Feed {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*media.Feed
	for _, f := range r.feeds {
		if f != nil {
			out = append(out, f)
		}
	}
	return out
}

func (r *Room) viewerListLocked() []*Participant {
	out := make([]*Participant, 0, r.viewers)
	for _, q := range r.participants {
		if q != r.host {
			out = append(out, q)
		}
	}
	return out
}

func (r *Room) setMuted(p *Participant, kind int, muted bool) {
	r.mu.Lock()
	if p != r.host || r.muted[kind] == muted {
		r.mu.Unlock()
		return
	}
	r.muted[kind] = muted
	f := r.feeds[kind]
	r.broadcastLocked(wire.Message{Type: wire.TypeTrackMuted, Kind: kindNames[kind], Muted: wire.Bool(muted)})
	r.mu.Unlock()
	if f != nil {
		f.SetMuted(muted)
	}
}

func (r *Room) endLiveBy(p *Participant) error {
	r.mu.Lock()
	if p != r.host || r.live == nil {
		r.mu.Unlock()
		return wire.Errorf(wire.CodeNotLive, "no live is running")
	}
	cleanup := r.endLiveLocked(wire.EndHostEnded)
	r.mu.Unlock()
	cleanup()
	return nil
}

// endLiveLocked ends the running live: everyone hears it, and the returned
// function, run without the lock, records it and stops its media.
func (r *Room) endLiveLocked(reason string) func() {
	end := time.Now()
	rec := r.live.record(r.name, reason, end)
	r.m.recordLiveEnd(r.live, end)
	r.live = nil
	if r.host == nil {
		r.hostIdentity = ""
	}
	if r.graceTimer != nil {
		r.graceTimer.Stop()
		r.graceTimer = nil
	}
	feeds := r.feeds
	r.feeds = [2]*media.Feed{}
	r.muted = [2]bool{}
	r.broadcastLocked(wire.Message{Type: wire.TypeLiveEnded, Live: rec.wire()})
	viewers := r.viewerListLocked()
	host := r.host
	log := r.m.log.With("room", r.name)
	return func() {
		if err := r.m.cfg.Lives.SaveLive(context.Background(), rec); err != nil {
			log.Error("save live record", "err", err, "live", rec.ID)
		}
		r.system(fmt.Sprintf("The live talk ended after %s", time.Duration(rec.DurationMS)*time.Millisecond))
		for _, v := range viewers {
			v.syncFeeds()
		}
		if host != nil {
			host.closePublisher()
		}
		for _, f := range feeds {
			if f != nil {
				f.Close()
			}
		}
		log.Info("live ended", "live", rec.ID, "reason", reason, "duration_ms", rec.DurationMS, "peak_viewers", rec.PeakViewers)
	}
}

func (r *Room) broadcastLocked(m wire.Message) {
	for _, q := range r.participants {
		q.peer.Send(m)
	}
}

// countChangedLocked pushes the viewer count now, or when a second has passed
// since the last push: a busy room's joins and leaves become one update a second.
func (r *Room) countChangedLocked() {
	if r.countTimer != nil || r.closed {
		return
	}
	wait := r.m.cfg.CountInterval - time.Since(r.countSentAt)
	if wait <= 0 {
		r.pushCountLocked()
		return
	}
	r.countTimer = time.AfterFunc(wait, func() {
		r.mu.Lock()
		r.countTimer = nil
		if !r.closed {
			r.pushCountLocked()
		}
		r.mu.Unlock()
	})
}

func (r *Room) pushCountLocked() {
	if r.viewers == r.countSent {
		return
	}
	r.countSent = r.viewers
	r.countSentAt = time.Now()
	r.broadcastLocked(wire.Message{Type: wire.TypeViewerCount, Count: wire.Int(r.viewers)})
}

func (r *Room) info() RoomInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	in := RoomInfo{Name: r.name, Viewers: r.viewers, Participants: len(r.participants)}
	if r.live != nil {
		in.Live = r.live.wire()
	}
	return in
}

func (r *Room) shutdown() {
	r.mu.Lock()
	var cleanup func()
	if r.live != nil {
		cleanup = r.endLiveLocked(wire.EndShutdown)
	}
	r.broadcastLocked(wire.Message{Type: wire.TypeServerShutdown, Reason: "server is shutting down"})
	parts := make([]*Participant, 0, len(r.participants))
	for _, q := range r.participants {
		parts = append(parts, q)
	}
	r.participants = map[string]*Participant{}
	r.viewers = 0
	r.host = nil
	r.closed = true
	if r.countTimer != nil {
		r.countTimer.Stop()
	}
	r.mu.Unlock()
	// Media first, so the live's cleanup renegotiates nobody who is leaving anyway.
	for _, q := range parts {
		q.closeMedia()
	}
	if cleanup != nil {
		cleanup()
	}
	for _, q := range parts {
		q.peer.Close(nil)
	}
	r.m.removeRoom(r)
}
