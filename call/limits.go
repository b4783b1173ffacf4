package call

import (
	"time"

	"golang.org/x/time/rate"
)

// Rate is a token bucket: Burst invitations at once, then one per Every.
type Rate struct {
	Burst int
	Every time.Duration
}

// maxLimiters bounds the users whose invitation budget is remembered; beyond it
// the idle ones (full buckets) are forgotten, which forgets nothing that matters.
const maxLimiters = 10_000

// limiterSet keeps one token bucket per identity. The Service's mutex guards it.
type limiterSet struct {
	rate Rate
	m    map[string]*rate.Limiter
}

func newLimiterSet(r Rate) limiterSet {
	return limiterSet{rate: r, m: map[string]*rate.Limiter{}}
}

// allow takes a token from identity's bucket, if it has one.
func (l *limiterSet) allow(identity string, now time.Time) bool {
	lim := l.m[identity]
	if lim == nil {
		if len(l.m) >= maxLimiters {
			l.prune(now)
		}
		lim = rate.NewLimiter(rate.Every(l.rate.Every), l.rate.Burst)
		l.m[identity] = lim
	}
	return lim.AllowN(now, 1)
}

func (l *limiterSet) prune(now time.Time) {
	for id, lim := range l.m {
		if lim.TokensAt(now) >= float64(l.rate.Burst) {
			delete(l.m, id)
		}
	}
}
