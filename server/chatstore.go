package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/talkrelay/talkrelay/chat"
	"github.com/talkrelay/talkrelay/store"
)

// chatStore adapts the durable store to the chat hub's Store.
type chatStore struct{ s *store.Store }

var _ chat.Store = chatStore{}

func toStore(m chat.Message) store.ChatMessage {
	return store.ChatMessage{Room: m.Room, Seq: m.Seq, ID: m.ID, From: m.From, Name: m.Name, Text: m.Text, Kind: m.Kind, At: m.At}
}

func fromStore(m store.ChatMessage) chat.Message {
	return chat.Message{Room: m.Room, Seq: m.Seq, ID: m.ID, From: m.From, Name: m.Name, Text: m.Text, Kind: m.Kind, At: m.At}
}

func fromStoreAll(ms []store.ChatMessage) []chat.Message {
	out := make([]chat.Message, len(ms))
	for i, m := range ms {
		out[i] = fromStore(m)
	}
	return out
}

func (c chatStore) AppendChat(ctx context.Context, m chat.Message) (chat.Message, error) {
	sm, err := c.s.AppendChat(ctx, toStore(m))
	return fromStore(sm), err
}

func (c chatStore) ChatHistory(ctx context.Context, room string, before uint64, limit int) ([]chat.Message, error) {
	ms, err := c.s.ChatHistory(ctx, room, before, limit)
	return fromStoreAll(ms), err
}

func (c chatStore) ChatSince(ctx context.Context, room string, after uint64, limit int) ([]chat.Message, error) {
	ms, err := c.s.ChatSince(ctx, room, after, limit)
	return fromStoreAll(ms), err
}

func (c chatStore) DeleteChat(ctx context.Context, room string, seq uint64) error {
	err := c.s.DeleteChat(ctx, room, seq)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %w", chat.ErrNotFound, err)
	}
	return err
}

func (c chatStore) ClearChat(ctx context.Context, room string) error { return c.s.ClearChat(ctx, room) }

func (c chatStore) AddReport(ctx context.Context, r chat.Report) error {
	return c.s.AddReport(ctx, store.Report{Room: r.Room, Reporter: r.Reporter, Reason: r.Reason, Seq: r.Seq, At: r.At})
}

func (c chatStore) Ban(ctx context.Context, room, identity string, until time.Time) error {
	return c.s.Ban(ctx, room, identity, until)
}

func (c chatStore) Banned(ctx context.Context, room, identity string) (bool, error) {
	return c.s.Banned(ctx, room, identity)
}
