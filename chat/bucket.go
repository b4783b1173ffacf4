package chat

import "time"

// bucket is a token bucket for one identity. The zero bucket is full.
type bucket struct {
	tokens float64
	at     time.Time // when tokens was last brought up to date; zero: never used
}

// refill brings the bucket up to now under limit l.
func (b *bucket) refill(l RateLimit, now time.Time) {
	burst := float64(max(l.Burst, 1))
	if b.at.IsZero() {
		b.tokens, b.at = burst, now
		return
	}
	if now.After(b.at) {
		rate := float64(l.Count) / l.Per.Seconds()
		b.tokens = min(burst, b.tokens+rate*now.Sub(b.at).Seconds())
		b.at = now
	}
}

// take spends one token, or reports how long until one is available.
func (b *bucket) take(l RateLimit, now time.Time) (ok bool, wait time.Duration) {
	if l.Count < 0 {
		return true, 0
	}
	b.refill(l, now)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	rate := float64(l.Count) / l.Per.Seconds()
	return false, time.Duration((1 - b.tokens) / rate * float64(time.Second))
}

// give returns a token spent on an operation that then failed.
func (b *bucket) give(l RateLimit) {
	b.tokens = min(float64(max(l.Burst, 1)), b.tokens+1)
}

// full reports whether the bucket would be full at now, i.e. forgetting it changes nothing.
func (b *bucket) full(l RateLimit, now time.Time) bool {
	if b.at.IsZero() || l.Count < 0 {
		return true
	}
	c := *b
	c.refill(l, now)
	return c.tokens >= float64(max(l.Burst, 1))
}
