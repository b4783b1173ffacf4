package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A journal is a per-room, append-only list of JSON records in one stream
// (subject prefix + room token), trimmed to its newest records by the stream's
// per-subject limit. Reports and live records are journals.

// appendJSON stores v as the newest record of the room's journal. A non-empty
// msgID makes a retried append within two minutes a no-op.
func (s *Store) appendJSON(ctx context.Context, prefix, room, msgID string, v any) error {
	tok, err := roomToken(room)
	if err != nil {
		return err
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	msg := nats.NewMsg(prefix + tok)
	msg.Data = data
	if msgID != "" {
		msg.Header.Set(jetstream.MsgIDHeader, msg.Subject+" "+msgID)
	}
	publish := func(ctx context.Context) (*jetstream.PubAck, error) { return s.js.PublishMsg(ctx, msg) }
	if msgID != "" { // a retry is recognised: ride out a failover
		_, err = retrying(ctx, publish)
	} else {
		_, err = publish(ctx)
	}
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	return nil
}

// readJournal returns the room's journal, newest first.
func readJournal[T any](ctx context.Context, s *Store, stream, prefix, room string) ([]T, error) {
	tok, err := roomToken(room)
	if err != nil {
		return nil, err
	}
	out := []T{}
	err = s.directScan(ctx, stream, prefix+tok, 1, 256, func(m rawMsg) (bool, error) {
		var v T
		if err := json.Unmarshal(m.Data, &v); err != nil {
			return false, fmt.Errorf("decode record %d of %s: %w", m.Seq, stream, err)
		}
		out = append(out, v)
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	slices.Reverse(out)
	return out, nil
}
