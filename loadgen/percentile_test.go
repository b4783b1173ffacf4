package loadgen

import (
	"math"
	"testing"
)

func TestPercentiles(t *testing.T) {
	hundred := make([]float64, 100)
	for i := range hundred {
		hundred[i] = float64(100 - i) // 100..1, unsorted
	}
	tests := []struct {
		name string
		vals []float64
		want *Percentiles
	}{
		{"none", nil, nil},
		{"one", []float64{7}, &Percentiles{7, 7, 7, 1}},
		{"1..100", hundred, &Percentiles{50, 95, 99, 100}},
		{"ten", []float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, &Percentiles{5, 10, 10, 10}},
		{"outlier", []float64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 500}, &Percentiles{1, 1, 500, 20}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := percentiles(tc.vals)
			if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	if hundred[0] != 100 {
		t.Fatal("percentiles sorted its input")
	}
}

func TestReservoirBounded(t *testing.T) {
	r := newReservoir(1000, 1)
	for i := range 100_000 {
		r.add(float64(i))
	}
	if len(r.vals) != 1000 || r.seen != 100_000 {
		t.Fatalf("%d values kept of %d", len(r.vals), r.seen)
	}
	// A uniform sample of 0..99999 has its median near 50000.
	if p := percentiles(r.vals); math.Abs(p.P50-50_000) > 7_500 {
		t.Fatalf("sample median %.0f, far from 50000", p.P50)
	}
}
