package room

import (
	"time"

	"github.com/talkrelay/talkrelay/chat"
	"github.com/talkrelay/talkrelay/metrics"
)

// maxTrackedChatters bounds the identities a live remembers for its engagement
// figure: beyond it the live counts no more chatters, so a huge live's memory
// stays bounded (its ratio is then a lower bound).
const maxTrackedChatters = 10000

// Counts is a snapshot of the manager's rooms, read at metrics scrape time.
func (m *Manager) Counts() metrics.RoomCounts {
	m.mu.Lock()
	rooms := make([]*Room, 0, len(m.rooms))
	for _, r := range m.rooms {
		rooms = append(rooms, r)
	}
	m.mu.Unlock()
	c := metrics.RoomCounts{Rooms: len(rooms)}
	for _, r := range rooms {
		r.mu.Lock()
		switch r.kind {
		case kindCallRoom:
			c.Calls++
			c.Callers += len(r.participants)
		case kindGroupRoom:
			c.Groups++
		}
		c.Viewers += r.viewers
		if r.host != nil {
			c.Hosts++
		}
		if r.live != nil {
			c.Lives++
		}
		r.mu.Unlock()
	}
	return c
}

// chatted notes a viewer who chatted during a room's live, for its engagement.
func (m *Manager) chatted(roomName string, from chat.Participant) {
	if from.Host {
		return
	}
	m.mu.Lock()
	r := m.rooms[roomName]
	m.mu.Unlock()
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.live == nil || len(r.live.chatters) >= maxTrackedChatters {
		return
	}
	if r.live.chatters == nil {
		r.live.chatters = map[string]struct{}{}
	}
	r.live.chatters[from.Identity] = struct{}{}
}

// recordLiveEnd observes an ended live: its duration and its engagement (distinct
// chatting viewers over peak viewers; a live nobody watched has none).
func (m *Manager) recordLiveEnd(l *live, end time.Time) {
	met := m.cfg.Metrics
	met.LivesEnded.Inc()
	met.LiveDuration.Observe(end.Sub(l.started).Seconds())
	if l.peak > 0 {
		met.Engagement.Observe(float64(len(l.chatters)) / float64(l.peak))
	}
}
