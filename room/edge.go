package room

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/media"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// What a cluster needs from a live room: its state to relay, a tap on its
// publisher's packets, and a way to present a live published on another node
// (a remote live) to the viewers here. The cluster package drives all of it;
// a single node never calls these.

// Errors of the relay hooks.
var (
	// ErrNoRoom: no live room of that name is open on this node.
	ErrNoRoom = errors.New("room: no such live room here")
	// ErrLocalLive: the room's live is published on this node.
	ErrLocalLive = errors.New("room: the live is published here")
	// ErrNotLive: the room has no live to relay.
	ErrNotLive = errors.New("room: no live running")
)

// Kinds of tracks in relay messages (the room's own indices).
const (
	RelayAudio = kindAudio
	RelayVideo = kindVideo
)

// PacketSink receives a copy of every packet of a room's live. Packet is
// called on the feed's reader goroutine: it must copy pkt and never block.
// gen changes whenever the publisher's stream is replaced (a new sequence
// space starts).
type PacketSink interface {
	Packet(kind, layer int, gen uint8, pkt []byte)
}

// RelayTrack is one of a live's feeds as another node must recreate it.
type RelayTrack struct {
	Kind  int                       `json:"kind"`
	Codec webrtc.RTPCodecParameters `json:"codec"`
	RIDs  []string                  `json:"rids,omitempty"`
}

// RelayState is what an edge needs to present a live: the live, its host's
// mute state, its tracks, and why its media stopped if it did.
type RelayState struct {
	Live   wire.Live      `json:"live"`
	Muted  wire.MuteState `json:"muted"`
	Tracks []RelayTrack   `json:"tracks"`
	// Interrupted is the reason the live is interrupted ("" while it runs).
	Interrupted string `json:"interrupted,omitempty"`
}

// ClusterRoom is a live room's state on this node, for the cluster's
// bookkeeping.
type ClusterRoom struct {
	Name    string
	Viewers int // viewers on this node
	// Origin: the live is published on this node (its host is here).
	Origin bool
	// Remote: the live shown here is relayed from another node.
	Remote bool
	// Host: a host is connected here (live or not).
	Host bool
	Live *wire.Live
}

// edgeState is a room's cluster side; guarded by Room.mu except taps.
type edgeState struct {
	taps          tapSet
	remote        *RemoteLive // the relayed live shown here, if any
	remoteViewers int         // viewers of this room on other nodes
}

// tapSet is the room's packet sinks, read lock-free on the packet path.
type tapSet struct {
	mu    sync.Mutex
	sinks atomic.Pointer[[]PacketSink]
	gen   atomic.Uint32
}

// tee wraps a publisher's track so the tap set sees its packets.
func (t *tapSet) tee(kind, layer int, tr media.RemoteTrack) media.RemoteTrack {
	return &teeTrack{RemoteTrack: tr, set: t, kind: kind, layer: layer, gen: uint8(t.gen.Add(1))}
}

func (t *tapSet) add(s PacketSink) func() {
	t.mu.Lock()
	defer t.mu.Unlock()
	var cur []PacketSink
	if p := t.sinks.Load(); p != nil {
		cur = *p
	}
	next := append(append([]PacketSink(nil), cur...), s)
	t.sinks.Store(&next)
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		cur := *t.sinks.Load()
		next := make([]PacketSink, 0, len(cur))
		for _, x := range cur {
			if x != s {
				next = append(next, x)
			}
		}
		t.sinks.Store(&next)
	}
}

// teeTrack hands every packet it reads to the tap set's sinks.
type teeTrack struct {
	media.RemoteTrack
	set         *tapSet
	kind, layer int
	gen         uint8
}

func (t *teeTrack) Read(b []byte) (int, interceptor.Attributes, error) {
	n, a, err := t.RemoteTrack.Read(b)
	if err == nil && n > 0 {
		if p := t.set.sinks.Load(); p != nil {
			for _, s := range *p {
				s.Packet(t.kind, t.layer, t.gen, b[:n])
			}
		}
	}
	return n, a, err
}

// liveRoom returns the open live room name.
func (m *Manager) liveRoom(name string) *Room {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.rooms[name]
	if r == nil || r.kind != kindLiveRoom {
		return nil
	}
	return r
}

// liveRooms is a snapshot of the live rooms open on this node.
func (m *Manager) liveRooms() []*Room {
	m.mu.Lock()
	defer m.mu.Unlock()
	rooms := make([]*Room, 0, len(m.rooms))
	for _, r := range m.rooms {
		if r.kind == kindLiveRoom {
			rooms = append(rooms, r)
		}
	}
	return rooms
}

// ClusterRooms lists the live rooms open on this node.
func (m *Manager) ClusterRooms() []ClusterRoom {
	rooms := m.liveRooms()
	out := make([]ClusterRoom, 0, len(rooms))
	for _, r := range rooms {
		r.mu.Lock()
		c := ClusterRoom{Name: r.name, Viewers: r.viewers, Host: r.host != nil, Remote: r.edge.remote != nil}
		if r.live != nil {
			c.Live = r.live.wire()
			c.Origin = r.edge.remote == nil
		}
		r.mu.Unlock()
		out = append(out, c)
	}
	return out
}

// RelayState returns the state of a room's live for an edge: the live
// published here, or one relayed here (so edges can feed edges).
func (m *Manager) RelayState(name string) (RelayState, error) {
	r := m.liveRoom(name)
	if r == nil {
		return RelayState{}, ErrNoRoom
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.live == nil {
		return RelayState{}, ErrNotLive
	}
	st := RelayState{Live: *r.live.wire(), Muted: r.hostMutedLocked(), Interrupted: r.live.interrupted}
	if src := r.sources[r.hostIdentity]; src != nil {
		for kind, f := range src.feeds {
			if f == nil {
				continue
			}
			t := RelayTrack{Kind: kind, Codec: f.Codec()}
			if f.Layers() > 1 {
				for i := range f.Layers() {
					t.RIDs = append(t.RIDs, f.LayerRID(i))
				}
			}
			st.Tracks = append(st.Tracks, t)
		}
	}
	return st, nil
}

// Tap adds s to the sinks of a room's live packets; the returned function
// removes it.
func (m *Manager) Tap(name string, s PacketSink) (func(), error) {
	r := m.liveRoom(name)
	if r == nil {
		return nil, ErrNoRoom
	}
	return r.edge.taps.add(s), nil
}

// RequestKeyframe asks the publisher of a room's live (or the node it is
// relayed from) for a keyframe of its video.
func (m *Manager) RequestKeyframe(name string) {
	r := m.liveRoom(name)
	if r == nil {
		return
	}
	r.mu.Lock()
	var f *media.Feed
	if src := r.sources[r.hostIdentity]; src != nil {
		f = src.feeds[kindVideo]
	}
	r.mu.Unlock()
	if f != nil {
		f.RequestKeyframe()
	}
}

// SetRemoteViewers sets how many viewers the room has on other nodes: the
// viewer count participants see is the sum.
func (m *Manager) SetRemoteViewers(name string, n int) {
	r := m.liveRoom(name)
	if r == nil {
		return
	}
	r.mu.Lock()
	if r.edge.remoteViewers != n {
		r.edge.remoteViewers = n
		r.notePeakLocked()
		r.countChangedLocked()
	}
	r.mu.Unlock()
}

// totalViewersLocked is the room's viewers on every node.
func (r *Room) totalViewersLocked() int { return r.viewers + r.edge.remoteViewers }

// notePeakLocked raises the live's peak to the viewers on every node: the
// record the origin keeps counts the whole audience.
func (r *Room) notePeakLocked() {
	if r.live != nil {
		r.live.peak = max(r.live.peak, r.totalViewersLocked())
	}
}

// RemoteLive is a live published on another node, shown to this node's
// viewers through local feeds that a relay fills.
type RemoteLive struct {
	r     *Room
	feeds [2]*media.Feed
}

// AttachRemote presents a live relayed from another node to the viewers of
// room name here. The returned RemoteLive's feeds wait for Attach. The live
// already shown keeps its feeds of the same codec (its viewers continue on
// the same tracks) when the relay is replaced: a new parent, or a new origin
// after the host came back elsewhere.
func (m *Manager) AttachRemote(name string, st RelayState) (*RemoteLive, error) {
	r := m.liveRoom(name)
	if r == nil {
		return nil, ErrNoRoom
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrNoRoom
	}
	if r.host != nil || (r.live != nil && r.edge.remote == nil) {
		r.mu.Unlock()
		return nil, ErrLocalLive
	}
	var old *source
	if r.edge.remote != nil { // a newer relay replaces the one shown
		old = r.sources[r.hostIdentity]
		delete(r.sources, r.hostIdentity)
	}
	same := r.live != nil && r.live.id == st.Live.ID
	if r.live != nil && !same && r.live.interrupted != "" {
		// The interrupted live never came back: the host started another.
		end := time.Now()
		r.broadcastLocked(wire.Message{Type: wire.TypeLiveEnded, Live: r.live.record(r.name, wire.EndOriginLost, end).wire()})
	}
	if !same {
		r.live = &live{id: st.Live.ID, host: st.Live.Host, hostName: st.Live.HostName, started: time.UnixMilli(st.Live.StartedAt), peak: r.viewers}
		r.live.interrupted = st.Interrupted
	}
	r.hostIdentity = st.Live.Host
	src := &source{muted: [2]bool{st.Muted.Audio, st.Muted.Video}}
	r.sources[st.Live.Host] = src
	rl := &RemoteLive{r: r}
	for _, t := range st.Tracks {
		if t.Kind != kindAudio && t.Kind != kindVideo {
			continue
		}
		var f *media.Feed
		if same && old != nil && sameFeed(old.feeds[t.Kind], t) {
			f, old.feeds[t.Kind] = old.feeds[t.Kind], nil
		} else {
			f = r.m.cfg.Engine.NewFeed(media.FeedConfig{
				TrackID: kindNames[t.Kind], StreamID: r.name, Codec: t.Codec, RIDs: t.RIDs,
				Workers: r.m.cfg.FeedWorkers, Logger: r.m.log.With("room", r.name, "relayed", true),
			})
		}
		f.SetMuted(src.muted[t.Kind])
		src.feeds[t.Kind] = f
		rl.feeds[t.Kind] = f
	}
	r.edge.remote = rl
	if !same {
		r.broadcastLocked(wire.Message{Type: wire.TypeLiveStarted, Live: r.live.wire()})
	} else {
		r.setInterruptedLocked(st.Interrupted)
	}
	for k, muted := range src.muted {
		if muted != (old != nil && old.muted[k]) || (!same && muted) {
			r.broadcastLocked(wire.Message{Type: wire.TypeTrackMuted, Kind: kindNames[k], Muted: wire.Bool(muted)})
		}
	}
	viewers := r.othersLocked(nil)
	r.mu.Unlock()
	for _, v := range viewers {
		v.syncFeeds()
	}
	if old != nil {
		old.closeFeeds() // those not carried over
	}
	return rl, nil
}

// sameFeed reports whether f can carry relayed track t on: same kind of
// media, codec and simulcast layers.
func sameFeed(f *media.Feed, t RelayTrack) bool {
	return f != nil && strings.EqualFold(f.Codec().MimeType, t.Codec.MimeType) && f.Layers() == max(len(t.RIDs), 1)
}

// Remote returns the relayed live shown in room name, or nil.
func (m *Manager) Remote(name string) *RemoteLive {
	r := m.liveRoom(name)
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.edge.remote
}

// Feed is the local feed of a relayed track kind (RelayAudio, RelayVideo), or nil.
func (rl *RemoteLive) Feed(kind int) *media.Feed {
	if kind < 0 || kind >= len(rl.feeds) {
		return nil
	}
	return rl.feeds[kind]
}

// Attach makes t the source of a relayed feed's layer. t's packets also reach
// the room's taps, so this node can relay the live further.
func (rl *RemoteLive) Attach(kind, layer int, t media.RemoteTrack, up media.Upstream) bool {
	f := rl.Feed(kind)
	if f == nil {
		return false
	}
	rl.r.mu.Lock()
	current := rl.r.edge.remote == rl
	rl.r.mu.Unlock()
	if !current {
		return false
	}
	f.AttachLayer(layer, rl.r.edge.taps.tee(kind, layer, t), nil, up)
	return true
}

// SetMuted shows the remote host's mute state of kind.
func (rl *RemoteLive) SetMuted(kind int, muted bool) {
	r := rl.r
	r.mu.Lock()
	src := r.sources[r.hostIdentity]
	if r.edge.remote != rl || src == nil || kind < 0 || kind > 1 || src.muted[kind] == muted {
		r.mu.Unlock()
		return
	}
	src.muted[kind] = muted
	r.broadcastLocked(wire.Message{Type: wire.TypeTrackMuted, Kind: kindNames[kind], Muted: wire.Bool(muted)})
	f := src.feeds[kind]
	r.mu.Unlock()
	if f != nil {
		f.SetMuted(muted)
	}
}

// End ends the relayed live here: viewers get live_ended with rec (the
// origin's record; the origin stores it). A nil rec ends it silently (no
// viewer is left to tell).
func (rl *RemoteLive) End(rec *wire.Live) {
	r := rl.r
	r.mu.Lock()
	if r.edge.remote != rl {
		r.mu.Unlock()
		return
	}
	r.edge.remote = nil
	src := r.sources[r.hostIdentity]
	delete(r.sources, r.hostIdentity)
	r.live = nil
	if r.host == nil {
		r.hostIdentity = ""
	}
	if rec != nil {
		r.broadcastLocked(wire.Message{Type: wire.TypeLiveEnded, Live: rec})
	}
	viewers := r.othersLocked(nil)
	empty := r.closeIfEmptyLocked()
	r.mu.Unlock()
	for _, v := range viewers {
		v.syncFeeds()
	}
	if src != nil {
		src.closeFeeds()
	}
	if empty {
		r.m.removeRoom(r)
	}
}
