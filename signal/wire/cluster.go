package wire

// A cluster of nodes serves one live from several machines (see
// PROTOCOL.md, "Clusters"): clients learn the other nodes they may join if
// theirs becomes unreachable, and hear when the host's media stops because
// the host or its node went away, and when it comes back.

// Server → client message types of clusters and interrupted lives.
const (
	// TypeNodes {nodes}: the base URLs of other nodes of the cluster a client
	// may join (a fresh join, same token) if this node becomes unreachable;
	// sent when the set changes. joined.nodes holds the set at join time.
	TypeNodes = "nodes"
	// TypeLiveInterrupted {live, reason}: the host's media stopped but the
	// live goes on, waiting for the host to come back (live.state
	// "interrupted"); reason says why (InterruptHostDisconnected,
	// InterruptOriginLost).
	TypeLiveInterrupted = "live_interrupted"
	// TypeLiveResumed {live}: the host is back; the same live continues and
	// media follows on the same tracks.
	TypeLiveResumed = "live_resumed"
)

// LiveInterrupted is the state of a live whose host's media stopped: viewers
// keep their tracks and wait; live_resumed or live_ended follows.
const LiveInterrupted = "interrupted"

// Reasons a live is interrupted.
const (
	// InterruptHostDisconnected: the host's connection dropped; the live waits
	// for the host grace period.
	InterruptHostDisconnected = "host_disconnected"
	// InterruptOriginLost: the node the host published on is gone or
	// unreachable; the live waits for the host to reconnect to any node.
	InterruptOriginLost = "origin_lost"
)

// EndOriginLost is the live_ended reason when the host's node died and the
// host did not come back to any node within the grace period.
const EndOriginLost = "origin_lost"
