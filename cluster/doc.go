// Package cluster turns several SFU nodes sharing one NATS (JetStream) into
// one service for lives too large for a machine.
//
//   - registry.go: every node's address, relay address and load, in a KV
//     bucket whose entries expire unless heartbeated;
//   - directory.go: room → origin node (where the host publishes), claimed
//     with compare-and-set so two nodes never both own a room, and taken over
//     only from a node the registry no longer lists;
//   - relay*.go: the media relay over QUIC with mutual TLS from the cluster
//     secret. An edge with viewers pulls each track of a live once from its
//     parent (the origin or another edge) — RTP in DATAGRAMs, a control stream
//     per room for state, mute, end of live, keyframe requests and NACKs — and
//     feeds local feeds, so its viewers are served by the ordinary fan-out;
//   - bus.go: viewer counts summed over nodes, chat appended on other nodes;
//   - moderation.go: hosts' chat actions applied on every node;
//   - placement.go: where a viewer goes when this node is full;
//   - alternates.go: the other nodes a client may fail over to;
//   - failover.go: a live whose origin died waits, interrupted, for its host
//     to publish again on any node, which continues it; else it ends.
//
// NATS is the only coordination engine: there is no consensus of our own.
package cluster
