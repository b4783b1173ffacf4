package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ban is a ban's value in the bucket; its key is "<room token>.<identity token>".
type ban struct {
	Until time.Time `json:"until"` // zero: forever
}

func banKey(room, identity string) (string, error) {
	r, err := roomToken(room)
	if err != nil {
		return "", err
	}
	id, err := token("identity", identity)
	if err != nil {
		return "", err
	}
	return r + "." + id, nil
}

// Ban keeps identity out of room until the given time (zero time: forever). A
// new ban replaces the previous one, so it can shorten or lengthen it.
func (s *Store) Ban(ctx context.Context, room, identity string, until time.Time) error {
	key, err := banKey(room, identity)
	if err != nil {
		return fmt.Errorf("store: ban: %w", err)
	}
	data, err := json.Marshal(ban{Until: until.UTC()})
	if err != nil {
		return fmt.Errorf("store: ban: encode: %w", err)
	}
	if _, err := s.bans.Put(ctx, key, data); err != nil {
		return fmt.Errorf("store: ban %q from room %q: %w", identity, room, err)
	}
	return nil
}

// Unban lifts identity's ban from room, if any.
func (s *Store) Unban(ctx context.Context, room, identity string) error {
	key, err := banKey(room, identity)
	if err != nil {
		return fmt.Errorf("store: unban: %w", err)
	}
	if err := s.bans.Delete(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("store: unban %q from room %q: %w", identity, room, err)
	}
	return nil
}

// Banned reports whether identity is banned from room now. An expired ban is
// removed on the way.
func (s *Store) Banned(ctx context.Context, room, identity string) (bool, error) {
	key, err := banKey(room, identity)
	if err != nil {
		return false, fmt.Errorf("store: banned: %w", err)
	}
	fail := func(err error) (bool, error) {
		return false, fmt.Errorf("store: is %q banned from room %q: %w", identity, room, err)
	}
	e, err := s.bans.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return fail(err)
	}
	var b ban
	if err := json.Unmarshal(e.Value(), &b); err != nil {
		return fail(fmt.Errorf("decode: %w", err))
	}
	if b.Until.IsZero() || time.Now().Before(b.Until) {
		return true, nil
	}
	// Expired. Delete only this revision: a ban renewed meanwhile must stay.
	err = s.bans.Delete(ctx, key, jetstream.LastRevision(e.Revision()))
	var apiErr *jetstream.APIError
	if err != nil && !(errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence) {
		s.log.Warn("could not remove an expired ban", "room", room, "identity", identity, "err", err)
	}
	return false, nil
}
