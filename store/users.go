package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/talkrelay/talkrelay/call"
)

// user is a user's value in the users bucket; its key is the identity token.
// One key holds both the name and the settings, so a read-modify-write
// (update) keeps the part it does not change.
type user struct {
	Name     string         `json:"name,omitempty"`
	Settings *call.Settings `json:"settings,omitempty"` // nil: never saved
	Seen     time.Time      `json:"seen,omitzero"`      // last RememberUser; zero: never connected
}

// maxUserUpdates bounds the retries of a read-modify-write that keeps losing
// to concurrent writers of the same user (other nodes, other connections).
const maxUserUpdates = 20

func userKey(identity string) (string, error) { return token("identity", identity) }

// Settings returns identity's call settings; ok is false when none were saved
// (call.Store).
func (s *Store) Settings(ctx context.Context, identity string) (call.Settings, bool, error) {
	u, _, err := s.getUser(ctx, identity)
	if err != nil {
		return call.Settings{}, false, fmt.Errorf("store: settings of %q: %w", identity, err)
	}
	if u.Settings == nil {
		return call.Settings{}, false, nil
	}
	return *u.Settings, true, nil
}

// PutSettings replaces identity's call settings, keeping the remembered name
// (call.Store). It does not validate them.
func (s *Store) PutSettings(ctx context.Context, identity string, set call.Settings) error {
	err := s.updateUser(ctx, identity, func(u *user) { u.Settings = &set })
	if err != nil {
		return fmt.Errorf("store: put settings of %q: %w", identity, err)
	}
	return nil
}

// RememberUser records that identity connected, under its display name (an
// empty name keeps the previous one), keeping its settings (call.Store).
func (s *Store) RememberUser(ctx context.Context, identity, name string) error {
	now := time.Now().UTC()
	err := s.updateUser(ctx, identity, func(u *user) {
		if name != "" {
			u.Name = name
		}
		u.Seen = now
	})
	if err != nil {
		return fmt.Errorf("store: remember user %q: %w", identity, err)
	}
	return nil
}

// UserExists reports whether identity ever connected or saved settings
// (call.Store).
func (s *Store) UserExists(ctx context.Context, identity string) (bool, error) {
	_, rev, err := s.getUser(ctx, identity)
	if err != nil {
		return false, fmt.Errorf("store: does user %q exist: %w", identity, err)
	}
	return rev != 0, nil
}

// getUser returns identity's value and its revision; revision 0 means the
// key does not exist.
func (s *Store) getUser(ctx context.Context, identity string) (user, uint64, error) {
	key, err := userKey(identity)
	if err != nil {
		return user{}, 0, err
	}
	e, err := s.users.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return user{}, 0, nil
	}
	if err != nil {
		return user{}, 0, err
	}
	var u user
	if err := json.Unmarshal(e.Value(), &u); err != nil {
		return user{}, 0, fmt.Errorf("decode: %w", err)
	}
	return u, e.Revision(), nil
}

// updateUser applies change to identity's value and writes it back only if
// nobody wrote it meanwhile, retrying with the fresh value if somebody did.
func (s *Store) updateUser(ctx context.Context, identity string, change func(*user)) error {
	key, err := userKey(identity)
	if err != nil {
		return err
	}
	for attempt := range maxUserUpdates {
		if attempt > 0 {
			// Random back-off, growing, so racing writers stop colliding.
			select {
			case <-time.After(rand.N(time.Millisecond << min(attempt, 6))):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		u, rev, err := s.getUser(ctx, identity)
		if err != nil {
			return err
		}
		change(&u)
		data, err := json.Marshal(u)
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		if rev == 0 {
			_, err = s.users.Create(ctx, key, data)
		} else {
			_, err = s.users.Update(ctx, key, data, rev)
		}
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue // lost a race; read again
		}
		return err
	}
	return fmt.Errorf("still conflicting after %d attempts", maxUserUpdates)
}
