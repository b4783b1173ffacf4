package match

import "errors"

// Errors returned by the queue, wrapped with detail; match them with errors.Is.
var (
	// ErrInvalidUser: the user id is empty, too long, not UTF-8 or holds control
	// characters. The same limits apply to Profile.Skip.
	ErrInvalidUser = errors.New("match: invalid user id")
	// ErrInvalidProfile: the profile names an unknown key, exceeds a limit
	// (MaxInterests, MaxWantValues, MaxValueLen) or cannot ever be satisfied as
	// written (a common interest wanted with no interests declared). The wrapped
	// message says which field; show it to the client developer, not the user.
	ErrInvalidProfile = errors.New("match: invalid profile")
	// ErrQueued: the user is already waiting; Remove it first to change its profile.
	ErrQueued = errors.New("match: user already queued")
	// ErrFull: Config.MaxWaiting users are already waiting; retry later.
	ErrFull = errors.New("match: queue full")
	// ErrInvalidConfig: NewQueue was given widening steps it cannot apply.
	ErrInvalidConfig = errors.New("match: invalid config")
)
