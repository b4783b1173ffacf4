package store

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// watchHeartbeat is how often the server proves the chat watch alive; two
// missed (its server died) and the watch is recreated on another server from
// where it stopped.
const watchHeartbeat = time.Second

// WatchChat calls fn with the room and sequence of every chat message stored
// from now on, by this process or any other sharing the NATS. It reads the
// chat stream through an ordered consumer, not the published messages: a
// message is reported only once stored (a publish that lost its
// compare-and-set never is), and after a reconnect or the death of a NATS
// server the watch resumes after the last message it reported, so none is
// skipped. fn runs on one goroutine at a time, in stream order; it must not
// block for long. The returned function stops the watch and waits (at most
// 5 s) for fn to return.
func (s *Store) WatchChat(fn func(room string, seq uint64)) (func(), error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Start after the stream's current end, by sequence: a consumer asked for
	// "new" messages would, if recreated before its first message, skip those
	// stored in between.
	info, err := s.chat.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: watch chat: %w", err)
	}
	cons, err := s.chat.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{chatPrefix + "*.m"},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    info.State.LastSeq + 1,
		HeadersOnly:    true, // the room sequence is a header; bodies are read on demand
	})
	if err != nil {
		return nil, fmt.Errorf("store: watch chat: %w", err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		tok := strings.TrimSuffix(strings.TrimPrefix(m.Subject(), chatPrefix), ".m")
		name, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			return
		}
		seq, err := strconv.ParseUint(m.Headers().Get(hdrRoomSeq), 10, 64)
		if err != nil {
			return
		}
		fn(string(name), seq)
	},
		jetstream.PullHeartbeat(watchHeartbeat), jetstream.PullExpiry(10*watchHeartbeat),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			s.log.Debug("chat watch interrupted; it resumes by itself", "err", err)
		}))
	if err != nil {
		return nil, fmt.Errorf("store: watch chat: %w", err)
	}
	return func() {
		cc.Stop()
		select {
		case <-cc.Closed():
		case <-time.After(5 * time.Second): // a handler stuck on a dead NATS; do not hold shutdown
		}
	}, nil
}
