package room

import (
	"time"

	"github.com/talkrelay/talkrelay/signal/wire"
)

// An interrupted live is one whose host's media stopped while the live goes
// on, waiting for the host: its host dropped (the host grace), or, in a
// cluster, the node the host published on is gone. Viewers keep their tracks
// and are told (live_interrupted), and told again when the host is back
// (live_resumed), so "host reconnecting" is a state they can show.

// setInterruptedLocked records why the live's media stopped ("" when it
// flows again) and tells everyone of a change.
func (r *Room) setInterruptedLocked(reason string) {
	if r.live == nil || r.live.interrupted == reason {
		return
	}
	r.live.interrupted = reason
	if reason == "" {
		r.broadcastLocked(wire.Message{Type: wire.TypeLiveResumed, Live: r.live.wire()})
		return
	}
	r.broadcastLocked(wire.Message{Type: wire.TypeLiveInterrupted, Live: r.live.wire(), Reason: reason})
}

// SetInterrupted shows the relayed live as interrupted for reason (its
// origin is gone or unreachable, or the host dropped there), or, with "",
// as running again.
func (rl *RemoteLive) SetInterrupted(reason string) {
	r := rl.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.edge.remote != rl {
		return
	}
	r.setInterruptedLocked(reason)
}

// continuedLiveLocked returns the live a host publishing here continues, if
// the cluster says it was running on a node that died (ContinueLive), else
// nil: the host then starts a new live.
func (r *Room) continuedLiveLocked(host string) *live {
	fn := r.m.cfg.ContinueLive
	if fn == nil || r.kind != kindLiveRoom {
		return nil
	}
	l := fn(r.name, host)
	if l == nil || l.ID == "" {
		return nil
	}
	return &live{id: l.ID, host: host, hostName: l.HostName, started: time.UnixMilli(l.StartedAt), peak: r.viewers}
}

// Announce sends m to every participant of every live room here: cluster
// news all of them need (the nodes they may fail over to).
func (m *Manager) Announce(msg wire.Message) {
	for _, r := range m.liveRooms() {
		r.mu.Lock()
		r.broadcastLocked(msg)
		r.mu.Unlock()
	}
}
