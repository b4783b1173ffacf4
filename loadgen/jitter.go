package loadgen

import (
	"math"
	"time"
)

// jitter is the RFC 3550 interarrival jitter estimate (section 6.4.1,
// appendix A.8) of one stream, in RTP timestamp units: the smoothed mean
// deviation of the spacing between arrivals from the spacing between the
// packets' timestamps. It uses the monotonic arrival clock, so wall-clock
// steps do not show up as jitter.
type jitter struct {
	clockRate float64 // RTP timestamp units per second
	started   bool
	prevAt    time.Time
	prevTS    uint32
	j         float64
}

func newJitter(clockRate int) jitter { return jitter{clockRate: float64(clockRate)} }

// push folds in one packet: D = (Rj - Ri) - (Sj - Si), J += (|D| - J) / 16.
func (j *jitter) push(at time.Time, ts uint32) {
	if j.started {
		arrival := at.Sub(j.prevAt).Seconds() * j.clockRate
		sent := float64(int32(ts - j.prevTS)) // wrap-safe timestamp difference
		j.j += (math.Abs(arrival-sent) - j.j) / 16
	}
	j.started, j.prevAt, j.prevTS = true, at, ts
}

// ms returns the estimate in milliseconds.
func (j *jitter) ms() float64 {
	if j.clockRate == 0 {
		return 0
	}
	return j.j / j.clockRate * 1000
}
