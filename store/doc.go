// Package store keeps what outlives a broadcast: chat history, live records,
// reports and bans, in NATS JetStream (an embedded server by default, an external
// NATS with --nats).
package store

import (
	_ "github.com/nats-io/nats-server/v2/server"
	_ "github.com/nats-io/nats.go/jetstream"
)
