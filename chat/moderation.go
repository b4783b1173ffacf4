package chat

import (
	"math"
	"sync"
	"time"
)

// dupMemory caps the texts remembered per identity for the duplicate check; with the
// default rate limit at most 20 fit in a 30 s window anyway.
const dupMemory = 32

// sweepEvery is how often a room forgets identities whose state has returned to
// that of a newcomer, so a long live's map holds only recent senders.
const sweepEvery = time.Minute

// moderator is one room's moderation state: per-identity rate buckets, slow mode,
// recent texts, timeouts and bans. It lives in memory beside the room; bans are also
// written to the Store so that they outlive the room and reach other nodes.
type moderator struct {
	cfg *Config

	mu       sync.Mutex
	senders  map[string]*senderState
	timeouts map[string]time.Time // identity → until
	bans     map[string]time.Time // identity → until (zero: forever)
	slow     time.Duration
	swept    time.Time
}

// senderState is what the room remembers of one identity's recent activity.
type senderState struct {
	msgs   bucket    // sends and reports
	reads  bucket    // history requests
	last   time.Time // last accepted message, for slow mode
	recent []sent    // accepted texts within the duplicate window, oldest first
}

type sent struct {
	text string
	at   time.Time
}

// ticket records what admit changed, so that a message the store then refused can
// be taken back: the user's retry must not hit duplicate or slow_mode.
type ticket struct {
	identity string
	text     string
	at       time.Time
	prevLast time.Time
}

func newModerator(cfg *Config) *moderator {
	return &moderator{
		cfg:      cfg,
		senders:  map[string]*senderState{},
		timeouts: map[string]time.Time{},
		bans:     map[string]time.Time{},
		slow:     cfg.SlowMode,
	}
}

func (m *moderator) sender(identity string) *senderState {
	s := m.senders[identity]
	if s == nil {
		s = &senderState{}
		m.senders[identity] = s
	}
	return s
}

// barred refuses a banned or timed-out identity. The caller holds m.mu.
func (m *moderator) barred(identity string, now time.Time) *Error {
	if until, ok := m.bans[identity]; ok && (until.IsZero() || now.Before(until)) {
		return ErrBanned
	}
	if until, ok := m.timeouts[identity]; ok && now.Before(until) {
		return retryError(CodeTimedOut, until.Sub(now), "you are timed out until %s", until.UTC().Format(time.RFC3339))
	}
	return nil
}

// admit applies the stateful rules to a valid text, in the order a user can best
// act on: banned, timed out, slow mode, duplicate, rate. If all pass it records
// the message as sent; a host is exempt from slow mode only.
func (m *moderator) admit(p Participant, text string, now time.Time) (ticket, *Error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(now)
	if err := m.barred(p.Identity, now); err != nil {
		return ticket{}, err
	}
	s := m.sender(p.Identity)
	if m.slow > 0 && !p.Host && !s.last.IsZero() {
		if next := s.last.Add(m.slow); now.Before(next) {
			wait := next.Sub(now)
			return ticket{}, retryError(CodeSlowMode, wait, "slow mode is on: you may send again in %d s (at %s)",
				int64(math.Ceil(wait.Seconds())), next.UTC().Format(time.RFC3339))
		}
	}
	if w := m.cfg.DuplicateWindow; w > 0 {
		for _, r := range s.recent {
			if r.text == text && now.Sub(r.at) < w {
				return ticket{}, retryError(CodeDuplicate, w-now.Sub(r.at), "you sent the same text less than %s ago", w)
			}
		}
	}
	if ok, wait := s.msgs.take(m.cfg.RateLimit, now); !ok {
		return ticket{}, retryError(CodeRateLimited, wait, "too many messages: at most %d per %s", m.cfg.RateLimit.Count, m.cfg.RateLimit.Per)
	}
	t := ticket{identity: p.Identity, text: text, at: now, prevLast: s.last}
	s.last = now
	if m.cfg.DuplicateWindow > 0 {
		s.recent = pruneSent(s.recent, now, m.cfg.DuplicateWindow)
		if len(s.recent) == dupMemory {
			s.recent = append(s.recent[:0], s.recent[1:]...)
		}
		s.recent = append(s.recent, sent{text: text, at: now})
	}
	return t, nil
}

// undo takes back an admitted message that was not stored.
func (m *moderator) undo(t ticket) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.senders[t.identity]
	if s == nil {
		return
	}
	s.msgs.give(m.cfg.RateLimit)
	if s.last.Equal(t.at) {
		s.last = t.prevLast
	}
	for i, r := range s.recent {
		if r.text == t.text && r.at.Equal(t.at) {
			s.recent = append(s.recent[:i], s.recent[i+1:]...)
			break
		}
	}
}

// takeReport spends a message token on a report, so reports cannot flood the store.
func (m *moderator) takeReport(identity string, now time.Time) *Error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.barred(identity, now); err != nil {
		return err
	}
	if ok, wait := m.sender(identity).msgs.take(m.cfg.RateLimit, now); !ok {
		return retryError(CodeRateLimited, wait, "too many reports and messages")
	}
	return nil
}

// takeRead spends a history token: each history page costs a store read.
func (m *moderator) takeRead(identity string, now time.Time) *Error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ok, wait := m.sender(identity).reads.take(m.cfg.HistoryRateLimit, now); !ok {
		return retryError(CodeRateLimited, wait, "too many history requests")
	}
	return nil
}

func (m *moderator) setSlowMode(d time.Duration) {
	m.mu.Lock()
	m.slow = d
	m.mu.Unlock()
}

func (m *moderator) slowMode() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.slow
}

func (m *moderator) timeout(identity string, until time.Time) {
	m.mu.Lock()
	m.timeouts[identity] = until
	m.mu.Unlock()
}

func (m *moderator) ban(identity string, until time.Time) {
	m.mu.Lock()
	m.bans[identity] = until
	m.mu.Unlock()
}

// banned reports a ban this room remembers; the Store is asked separately on join.
func (m *moderator) banned(identity string, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	until, ok := m.bans[identity]
	return ok && (until.IsZero() || now.Before(until))
}

// sweep forgets state that no longer changes any decision. The caller holds m.mu.
func (m *moderator) sweep(now time.Time) {
	if now.Sub(m.swept) < sweepEvery {
		return
	}
	m.swept = now
	keep := max(m.slow, m.cfg.DuplicateWindow)
	for id, s := range m.senders {
		if now.Sub(s.last) >= keep && s.msgs.full(m.cfg.RateLimit, now) && s.reads.full(m.cfg.HistoryRateLimit, now) {
			delete(m.senders, id)
		}
	}
	for id, until := range m.timeouts {
		if !now.Before(until) {
			delete(m.timeouts, id)
		}
	}
	for id, until := range m.bans {
		if !until.IsZero() && !now.Before(until) {
			delete(m.bans, id)
		}
	}
}

func pruneSent(recent []sent, now time.Time, window time.Duration) []sent {
	i := 0
	for i < len(recent) && now.Sub(recent[i].at) >= window {
		i++
	}
	if i == 0 {
		return recent
	}
	return append(recent[:0], recent[i:]...)
}
