package chat

import (
	"log/slog"
	"time"

	"github.com/talkrelay/talkrelay/metrics"
)

// RateLimit is a token bucket: Count messages per Per on average, up to Burst at once.
// A zero RateLimit takes the default of the field it configures; a negative Count
// switches the limit off.
type RateLimit struct {
	Count int
	Per   time.Duration
	Burst int
}

// Config configures a Hub. Zero values take the defaults named on each field.
type Config struct {
	// Store keeps messages durably. Default: a new MemoryStore (single process only).
	Store  Store
	Logger *slog.Logger
	// HistoryOnJoin is how many of the newest messages a member receives on joining.
	// Default 50.
	HistoryOnJoin int
	// LargeRoom is the member count above which delivery is coalesced into one batch
	// per recipient every BatchInterval; at or below it messages go out at once.
	// Default 100.
	LargeRoom int
	// BatchInterval is how often a large room delivers, and how often a held-back
	// recipient is retried in any room. Default 50 ms.
	BatchInterval time.Duration
	// QueueLimit is how many messages may wait for one recipient; past it the oldest
	// are dropped and the recipient is sent a gap. Default 256.
	QueueLimit int
	// HideCap is how many missed messages a member receives on showing chat again;
	// older ones are announced as a gap. Default 200.
	HideCap int
	// HighWater is the Recipient.Buffered level above which the hub sends the
	// recipient nothing until it drains. Default 256 KiB.
	HighWater uint64
	// MaxFrameBytes caps one data channel message; larger batches are split and a
	// history page holds only the newest messages that fit. 16 KiB is what every
	// browser accepts. Default 16 KiB.
	MaxFrameBytes int
	// ControlLimit caps replies and notices (acks, errors, history pages, deleted,
	// cleared, ...) waiting for one recipient; the oldest are dropped past it. Default 64.
	ControlLimit int
	// MaxTextRunes is the longest text accepted, counted in runes. Default 500.
	MaxTextRunes int
	// BlockedWords are refused in user messages, matched case-insensitively as whole
	// words (an entry of several words matches that phrase).
	BlockedWords []string
	// RateLimit applies per identity to sent messages and reports.
	// Default 20 per 30 s, burst 20.
	RateLimit RateLimit
	// HistoryRateLimit applies per identity to history requests, which cost a store
	// read each. Default 30 per 30 s, burst 10.
	HistoryRateLimit RateLimit
	// SlowMode is the slow mode a room starts with (0 = off); the host changes it.
	SlowMode time.Duration
	// DuplicateWindow is how long the same text from the same identity is refused.
	// Default 30 s; negative switches the check off.
	DuplicateWindow time.Duration
	// Clock tells the time for moderation (rate, slow mode, duplicates, timeouts,
	// bans). Default time.Now; tests set a fake one.
	Clock func() time.Time
	// Metrics counts messages received, delivered, rejected and dropped, and
	// times the store. Nil records into unregistered metrics.
	Metrics *metrics.SFU
}

// maxRequestBytes caps one client message: a 500-rune text escaped as \uXXXX
// surrogate pairs is 6,000 bytes; anything far beyond is not a chat request.
const maxRequestBytes = 16 << 10

// maxHistoryPage caps a history request's limit.
const maxHistoryPage = 100

// maxTimeout caps timeout, ban and slow-mode durations set by a host: a week.
const maxTimeout = 7 * 24 * time.Hour

// withDefaults returns cfg with every zero field set to its default.
func (cfg Config) withDefaults() Config {
	if cfg.Store == nil {
		cfg.Store = NewMemoryStore()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	setInt(&cfg.HistoryOnJoin, 50)
	setInt(&cfg.LargeRoom, 100)
	setInt(&cfg.QueueLimit, 256)
	setInt(&cfg.HideCap, 200)
	setInt(&cfg.MaxFrameBytes, 16<<10)
	setInt(&cfg.ControlLimit, 64)
	setInt(&cfg.MaxTextRunes, 500)
	if cfg.BatchInterval <= 0 {
		cfg.BatchInterval = 50 * time.Millisecond
	}
	if cfg.HighWater == 0 {
		cfg.HighWater = 256 << 10
	}
	if cfg.RateLimit == (RateLimit{}) {
		cfg.RateLimit = RateLimit{Count: 20, Per: 30 * time.Second, Burst: 20}
	}
	if cfg.HistoryRateLimit == (RateLimit{}) {
		cfg.HistoryRateLimit = RateLimit{Count: 30, Per: 30 * time.Second, Burst: 10}
	}
	if cfg.DuplicateWindow == 0 {
		cfg.DuplicateWindow = 30 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return cfg
}

func setInt(v *int, def int) {
	if *v <= 0 {
		*v = def
	}
}

// ringSize is how many of the newest Seqs a room keeps in memory: enough for a
// member's full queue, an unhide tail and a join backfill, with slack so that
// messages stored during one flush do not overwrite what that flush still reads.
func (cfg Config) ringSize() int {
	return 2 * max(cfg.QueueLimit, cfg.HideCap, cfg.HistoryOnJoin)
}
