package room

import (
	"slices"
	"time"

	"github.com/talkrelay/talkrelay/signal/wire"
)

// layersDebounce is how long the room lets viewers' layer choices settle before
// telling the publisher which simulcast layers anyone watches: encoders are
// not restarted at every viewer's switch.
const layersDebounce = 500 * time.Millisecond

// layersWatchedFunc returns the callback a publisher's video feed calls when the
// layers its viewers want may have changed (dynacast): after a debounce the
// publisher gets a layers message if the set changed.
func (r *Room) layersWatchedFunc(identity string) func() {
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		s := r.sources[identity]
		if s == nil || s.layersTimer != nil || r.closed {
			return
		}
		s.layersTimer = time.AfterFunc(layersDebounce, func() { r.tellLayers(identity, s) })
	}
}

// tellLayers sends the publisher the layers its viewers watch, if they changed.
func (r *Room) tellLayers(identity string, s *source) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s.layersTimer = nil
	f := s.feeds[kindVideo]
	if r.sources[identity] != s || f == nil || f.Layers() < 2 {
		return
	}
	watched := f.WatchedLayers()
	if watched == nil {
		watched = []string{}
	}
	if s.layersSent != nil && slices.Equal(watched, s.layersSent) {
		return
	}
	s.layersSent = watched
	for _, q := range r.participants {
		if q.grant.Identity == identity && r.canPublishLocked(q) {
			q.peer.Send(wire.Message{Type: wire.TypeLayers, Kind: kindNames[kindVideo], RIDs: watched})
		}
	}
}

// retellLayers sends a resumed publisher the layers its viewers watch now: a
// layers message written into the dropped connection may have been lost.
func (r *Room) retellLayers(p *Participant) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.sources[p.grant.Identity]
	if s == nil || s.layersSent == nil || !r.canPublishLocked(p) {
		return
	}
	p.peer.Send(wire.Message{Type: wire.TypeLayers, Kind: kindNames[kindVideo], RIDs: s.layersSent})
}
