package store

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
)

// WatchChat calls fn with the room and sequence of every chat message stored
// from now on, by this process or any other sharing the NATS: JetStream
// publishes are plain NATS messages to subscribers too. fn runs on one NATS
// goroutine, in the order the server delivered; it must not block for long.
// The returned function stops the watch.
func (s *Store) WatchChat(fn func(room string, seq uint64)) (func(), error) {
	sub, err := s.nc.Subscribe(chatPrefix+"*.m", func(m *nats.Msg) {
		tok := strings.TrimSuffix(strings.TrimPrefix(m.Subject, chatPrefix), ".m")
		name, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			return
		}
		seq, err := strconv.ParseUint(m.Header.Get(hdrRoomSeq), 10, 64)
		if err != nil {
			return
		}
		fn(string(name), seq)
	})
	if err != nil {
		return nil, fmt.Errorf("store: watch chat: %w", err)
	}
	return func() { _ = sub.Unsubscribe() }, nil
}
