package call

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	// Embedded zone data, so zones resolve on hosts without /usr/share/zoneinfo
	// (minimal containers).
	_ "time/tzdata"
)

// ErrInvalidSettings is what Settings.Validate's errors wrap, so callers can
// tell a bad request from a storage failure.
var ErrInvalidSettings = errors.New("call: invalid settings")

// Settings are a user's rules for incoming calls. The zero value takes every
// kind of call at any hour.
type Settings struct {
	// TimeZone is the IANA zone ("Asia/Seoul") that AvailableFrom and
	// AvailableTo are read in; empty means UTC.
	TimeZone string `json:"time_zone,omitempty"`
	// AvailableFrom and AvailableTo ("HH:MM", 24-hour) bound the daily window
	// in which calls ring: From inclusive, To exclusive. To earlier than From
	// crosses midnight (22:00 to 07:00 is the night). Both empty: always.
	AvailableFrom string `json:"available_from,omitempty"`
	AvailableTo   string `json:"available_to,omitempty"`
	// Accept lists the modes taken (ModeChat, ModeVoice, ModeVideo). Nil or
	// absent takes all of them; an empty list takes none. omitzero, not
	// omitempty: an empty list must survive a round trip through JSON.
	Accept []string `json:"accept,omitzero"`
}

// Validate reports the first problem with s, wrapping ErrInvalidSettings.
func (s Settings) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidSettings, fmt.Sprintf(format, args...))
	}
	if _, err := location(s.TimeZone); err != nil {
		return bad("%v", err)
	}
	switch {
	case s.AvailableFrom == "" && s.AvailableTo == "":
	case s.AvailableFrom == "" || s.AvailableTo == "":
		return bad("available_from and available_to must be set together (or both left out)")
	default:
		from, err := parseClock(s.AvailableFrom)
		if err != nil {
			return bad("available_from: %v", err)
		}
		to, err := parseClock(s.AvailableTo)
		if err != nil {
			return bad("available_to: %v", err)
		}
		if from == to {
			return bad("available_from and available_to are both %s: leave both out to be always available", s.AvailableFrom)
		}
	}
	for i, m := range s.Accept {
		if !validMode(m) {
			return bad("accept: unknown mode %q (want %q, %q or %q)", m, ModeChat, ModeVoice, ModeVideo)
		}
		if slices.Contains(s.Accept[:i], m) {
			return bad("accept: mode %q listed twice", m)
		}
	}
	return nil
}

// Allows reports whether a call in mode may ring the user at now, and if not,
// why: ReasonModeNotAccepted or ReasonOutsideHours, checked in that order.
// The daily window is read on the wall clock of the user's zone at now, so it
// follows daylight saving time. s should be valid; if it is not (data written
// by another version), an unknown zone counts as UTC and a malformed window as
// always open, so a bad setting cannot make a user unreachable.
func (s Settings) Allows(mode string, now time.Time) (ok bool, reason string) {
	if !s.accepts(mode) {
		return false, ReasonModeNotAccepted
	}
	if !s.inWindow(now) {
		return false, ReasonOutsideHours
	}
	return true, ""
}

func (s Settings) accepts(mode string) bool {
	if !validMode(mode) {
		return false
	}
	return s.Accept == nil || slices.Contains(s.Accept, mode)
}

func (s Settings) inWindow(now time.Time) bool {
	from, err1 := parseClock(s.AvailableFrom)
	to, err2 := parseClock(s.AvailableTo)
	if err1 != nil || err2 != nil || from == to {
		return true
	}
	loc, err := location(s.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	h, m, _ := now.In(loc).Clock()
	t := h*60 + m
	if from < to {
		return from <= t && t < to
	}
	return t >= from || t < to // crosses midnight
}

func validMode(m string) bool {
	return m == ModeChat || m == ModeVoice || m == ModeVideo
}

// parseClock turns "HH:MM" (24-hour, two digits each) into minutes after midnight.
func parseClock(v string) (int, error) {
	digit := func(i int) (int, bool) {
		c := v[i]
		return int(c - '0'), '0' <= c && c <= '9'
	}
	if len(v) != 5 || v[2] != ':' {
		return 0, fmt.Errorf("%q is not HH:MM", v)
	}
	h1, ok1 := digit(0)
	h2, ok2 := digit(1)
	m1, ok3 := digit(3)
	m2, ok4 := digit(4)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return 0, fmt.Errorf("%q is not HH:MM", v)
	}
	h, m := h1*10+h2, m1*10+m2
	if h > 23 || m > 59 {
		return 0, fmt.Errorf("%q is not a time of day (00:00 to 23:59)", v)
	}
	return h*60 + m, nil
}

// zones caches loaded locations by name: time.LoadLocation reads and parses
// the zone file on every call, and Allows runs for every invitation. Only
// names that loaded are kept, and there are a few hundred of those.
var zones sync.Map // string -> *time.Location

// location returns the zone named name; empty means UTC.
func location(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	// "Local" would be the server's zone, which the user neither sees nor picks.
	if name == "Local" {
		return nil, errors.New(`time zone "Local" is the server's: name an IANA zone such as "Europe/Paris"`)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q (want an IANA name such as \"Asia/Seoul\")", name)
	}
	zones.Store(name, loc)
	return loc, nil
}
