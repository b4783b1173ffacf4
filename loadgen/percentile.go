package loadgen

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Percentiles summarises a distribution; N is the number of samples.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	N   int     `json:"n"`
}

// percentiles returns the nearest-rank percentiles of vals, or nil when
// there are none, so that "no data" never reads as zero in a report.
func percentiles(vals []float64) *Percentiles {
	if len(vals) == 0 {
		return nil
	}
	s := slices.Clone(vals)
	slices.Sort(s)
	return &Percentiles{P50: nearestRank(s, 50), P95: nearestRank(s, 95), P99: nearestRank(s, 99), N: len(s)}
}

// nearestRank is the smallest value with at least p percent of sorted at or
// below it.
func nearestRank(sorted []float64, p float64) float64 {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// reservoir keeps a uniform random sample of at most cap values (Vitter's
// algorithm R), so per-packet measurements over a long run fit in bounded
// memory while their percentiles stay unbiased.
type reservoir struct {
	vals []float64
	seen uint64
	cap  int
	rng  *rand.Rand
}

func newReservoir(capacity int, seed uint64) reservoir {
	return reservoir{cap: capacity, rng: rand.New(rand.NewPCG(seed, 0x6c6f616467656e))}
}

func (r *reservoir) add(v float64) {
	r.seen++
	if len(r.vals) < r.cap {
		r.vals = append(r.vals, v)
		return
	}
	if i := r.rng.Uint64N(r.seen); i < uint64(r.cap) {
		r.vals[i] = v
	}
}
