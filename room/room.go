package room

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/media"
	"github.com/talkrelay/talkrelay/signal/wire"
)

var errRoomClosed = errors.New("room: closed")

// Room is one live room (at most one host, any number of viewers) or the room of
// a 1:1 call (two callers who both publish). Each publisher's audio and video
// feeds outlive its reconnect.
type Room struct {
	name string
	m    *Manager
	kind roomKind

	mu           sync.Mutex
	participants map[string]*Participant
	viewers      int
	host         *Participant
	hostIdentity string // who owns the room's live: set while a host is connected or its live runs
	live         *live
	sources      map[string]*source // publisher identity → its feeds
	video        bool               // call rooms: video may be published (a video call)
	group        *group             // group rooms: speaker selection and hands; nil otherwise
	graceTimer   *time.Timer
	countSent    int
	countSentAt  time.Time
	countTimer   *time.Timer
	closed       bool
	edge         edgeState // cluster: taps, a relayed live, viewers elsewhere (edge.go)
}

type roomKind int

const (
	kindLiveRoom  roomKind = iota // one host broadcasts to viewers
	kindCallRoom                  // two callers talk; both publish
	kindGroupRoom                 // a group voice call: up to MaxSpeakers publish audio (group.go)
)

// source is one publisher's media: its feeds and whether each is muted.
type source struct {
	feeds [2]*media.Feed
	muted [2]bool
	// The simulcast layers viewers watch, as last told to the publisher, and the
	// pending debounce of the next telling.
	layersSent  []string
	layersTimer *time.Timer
}

// closeFeeds closes the source's feeds. A pending layers timer is left to
// fire: it finds the source gone from its room and does nothing.
func (s *source) closeFeeds() {
	for _, f := range s.feeds {
		if f != nil {
			f.Close()
		}
	}
}

func newRoom(m *Manager, name string, kind roomKind) *Room {
	return &Room{name: name, m: m, kind: kind, participants: map[string]*Participant{}, sources: map[string]*source{}}
}

// sourceLocked returns identity's source, creating it.
func (r *Room) sourceLocked(identity string) *source {
	s := r.sources[identity]
	if s == nil {
		s = &source{}
		r.sources[identity] = s
	}
	return s
}

// hostMutedLocked is the live host's mute state, for joined.
func (r *Room) hostMutedLocked() wire.MuteState {
	s := r.sources[r.hostIdentity]
	if r.hostIdentity == "" || s == nil {
		return wire.MuteState{}
	}
	return wire.MuteState{Audio: s.muted[kindAudio], Video: s.muted[kindVideo]}
}

func (r *Room) join(g auth.Grant, peer Peer, o JoinOptions) (*Participant, error) {
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
	if replaced == nil && g.Role == auth.RoleViewer && r.m.viewers.Load() >= int64(r.m.cfg.MaxViewers) {
		r.mu.Unlock()
		return nil, &wire.Error{Code: wire.CodeServerFull, Message: "this server has as many viewers as it may serve; try later", Fatal: true}
	}
	if replaced != nil {
		delete(r.participants, replaced.id) // the new connection takes its place in the count
	}
	p := &Participant{id: newID("PA_"), grant: g, room: r, sess: newSession(peer), chatAfter: o.ChatAfter, clientOffers: o.clientOffers}
	p.peer = p.sess
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
		r.m.viewers.Add(1)
		r.notePeakLocked()
	}
	p.peer.Send(wire.Message{Type: wire.TypeJoined, ID: o.ID, Joined: r.joinedLocked(p)})
	r.groupJoinedLocked(p)
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
		r.m.viewers.Add(-1)
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
	if r.kind == kindGroupRoom {
		cleanup = r.groupLeftLocked(p)
	} else if p == r.host {
		r.host = nil
		switch {
		case r.live != nil && onPurpose:
			cleanup = r.endLiveLocked(wire.EndHostLeft)
		case r.live != nil:
			r.graceTimer = time.AfterFunc(r.m.cfg.HostGrace, r.hostGraceExpired)
			r.setInterruptedLocked(wire.InterruptHostDisconnected)
		default:
			delete(r.sources, r.hostIdentity) // the next host starts with mic and camera on
			r.hostIdentity = ""
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
	// A call's room lives as long as the call: Close ends it.
	if len(r.participants) > 0 || r.live != nil || r.closed || r.kind == kindCallRoom {
		return false
	}
	r.closed = true
	if r.countTimer != nil {
		r.countTimer.Stop()
	}
	r.stopGroupLocked()
	return true
}

// publish attaches a track the host's connection received. A feed of the same
// codec continues (viewers see one stream across a host reconnect); a new codec
// gets a new feed and renegotiates the viewers.
func (r *Room) publish(p *Participant, kind int, t *webrtc.TrackRemote, recv *webrtc.RTPReceiver, up media.Upstream, rids []string) {
	layer := 0
	if t.RID() != "" {
		layer = slices.Index(rids, t.RID())
		if layer < 0 || layer >= media.MaxLayers {
			p.log.Warn("simulcast layer not announced in the offer", "rid", t.RID())
			return
		}
	}
	codec, ok := canonicalCodec(t.Codec())
	if !ok {
		p.log.Warn("published codec not forwardable", "mime", t.Codec().MimeType)
		return
	}
	r.mu.Lock()
	if !r.canPublishLocked(p) || r.closed {
		r.mu.Unlock()
		return
	}
	r.edge.remote = nil // a host publishing here takes over a relayed live
	src := r.sourceLocked(p.grant.Identity)
	f := src.feeds[kind]
	var old *media.Feed
	if f == nil || !strings.EqualFold(f.Codec().MimeType, codec.MimeType) || f.Layers() != max(len(rids), 1) {
		old = f
		// Stream ids tell a call's or group's receiver whose media a track carries.
		stream := r.name
		if r.kind != kindLiveRoom {
			stream = p.grant.Identity
		}
		f = r.m.cfg.Engine.NewFeed(media.FeedConfig{
			TrackID: kindNames[kind], StreamID: stream, Codec: codec, RIDs: rids,
			Workers: r.m.cfg.FeedWorkers, Logger: p.log,
			OnLayersWatched: r.layersWatchedFunc(p.grant.Identity),
		})
		f.SetMuted(src.muted[kind])
		if r.kind == kindGroupRoom {
			f.SetGate(media.GateClosed) // until the speaker selection opens it
		}
		src.feeds[kind] = f
	}
	started := false
	if r.live == nil && r.kind == kindLiveRoom {
		// A live whose node died continues here; otherwise a new one starts.
		if r.live = r.continuedLiveLocked(p.grant.Identity); r.live != nil {
			p.log.Info("continuing a live whose node died", "live", r.live.id)
		} else {
			r.live = &live{id: newID("LV_"), host: p.grant.Identity, hostName: p.grant.Name, started: time.Now(), peak: r.viewers}
			r.m.cfg.Metrics.LivesStarted.Inc()
			started = true
		}
		r.broadcastLocked(wire.Message{Type: wire.TypeLiveStarted, Live: r.live.wire()})
	} else if r.kind == kindLiveRoom {
		r.setInterruptedLocked("") // the host is back: its media flows again
	}
	viewers := r.othersLocked(p)
	r.mu.Unlock()
	if started {
		r.system(p.grant.Name + " started a live talk")
	}

	f.AttachLayer(layer, r.edge.taps.tee(kind, layer, t), recv, up)
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

// feedsFor returns the feeds p receives: every publisher's but its own.
func (r *Room) feedsFor(p *Participant) []*media.Feed {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*media.Feed
	for identity, s := range r.sources {
		if identity == p.grant.Identity {
			continue
		}
		for _, f := range s.feeds {
			if f != nil {
				out = append(out, f)
			}
		}
	}
	return out
}

// othersLocked returns the participants other than p.
func (r *Room) othersLocked(p *Participant) []*Participant {
	out := make([]*Participant, 0, len(r.participants))
	for _, q := range r.participants {
		if q != p {
			out = append(out, q)
		}
	}
	return out
}

// canPublishLocked says whether p may publish: a live's host, or a caller in
// its call.
func (r *Room) canPublishLocked(p *Participant) bool {
	switch r.kind {
	case kindCallRoom:
		return r.participants[p.id] == p
	case kindGroupRoom: // a speaker: see admitSpeaker
		return r.participants[p.id] == p && r.sources[p.grant.Identity] != nil
	}
	return p == r.host
}

func (r *Room) setMuted(p *Participant, kind int, muted bool) {
	r.mu.Lock()
	if !r.canPublishLocked(p) {
		r.mu.Unlock()
		return
	}
	src := r.sourceLocked(p.grant.Identity)
	if src.muted[kind] == muted {
		r.mu.Unlock()
		return
	}
	src.muted[kind] = muted
	f := src.feeds[kind]
	m := wire.Message{Type: wire.TypeTrackMuted, Kind: kindNames[kind], Muted: wire.Bool(muted)}
	if r.kind != kindLiveRoom {
		m.Identity = p.grant.Identity
	}
	r.broadcastLocked(m)
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
	src := r.sources[rec.Host]
	delete(r.sources, rec.Host)
	r.broadcastLocked(wire.Message{Type: wire.TypeLiveEnded, Live: rec.wire()})
	viewers := r.othersLocked(r.host)
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
		if src != nil {
			src.closeFeeds()
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
	total := r.totalViewersLocked()
	if total == r.countSent {
		return
	}
	r.countSent = total
	r.countSentAt = time.Now()
	r.broadcastLocked(wire.Message{Type: wire.TypeViewerCount, Count: wire.Int(total)})
}

func (r *Room) info() RoomInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	in := RoomInfo{Name: r.name, Type: kindName(r.kind), Viewers: r.viewers, Participants: len(r.participants)}
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
	sources := r.sources // a call's (a live's went with endLiveLocked)
	r.sources = map[string]*source{}
	r.m.viewers.Add(-int64(r.viewers))
	r.viewers = 0
	r.host = nil
	r.closed = true
	if r.countTimer != nil {
		r.countTimer.Stop()
	}
	r.stopGroupLocked()
	r.mu.Unlock()
	// Media first, so the live's cleanup renegotiates nobody who is leaving anyway.
	for _, q := range parts {
		q.closeMedia()
	}
	if cleanup != nil {
		cleanup()
	}
	for _, src := range sources {
		src.closeFeeds()
	}
	for _, q := range parts {
		q.peer.Close(nil)
	}
	r.m.removeRoom(r)
}
