package loadgen

import (
	"math"
	"testing"
	"time"
)

func TestJitterHandComputed(t *testing.T) {
	// 8 kHz clock, 20 ms packets (160 ticks). Arrivals at 0, 20, 50, 60 ms:
	//   D1 = 160 - 160 = 0         J = 0
	//   D2 = 240 - 160 = 80        J = 0 + (80 - 0)/16 = 5
	//   D3 = 80 - 160 = -80        J = 5 + (80 - 5)/16 = 9.6875
	// 9.6875 ticks = 1.2109375 ms.
	j := newJitter(8000)
	t0 := time.Unix(1000, 0)
	for i, at := range []time.Duration{0, 20 * time.Millisecond, 50 * time.Millisecond, 60 * time.Millisecond} {
		j.push(t0.Add(at), uint32(1000+160*i))
	}
	if math.Abs(j.j-9.6875) > 1e-9 || math.Abs(j.ms()-1.2109375) > 1e-9 {
		t.Fatalf("jitter %.6f ticks %.6f ms, want 9.6875 and 1.2109375", j.j, j.ms())
	}
}

func TestJitterSteadyAndWrap(t *testing.T) {
	// Perfectly paced packets have no jitter, across a timestamp wrap too.
	j := newJitter(90000)
	t0 := time.Unix(1000, 0)
	ts := uint32(math.MaxUint32 - 6000)
	for i := range 10 {
		j.push(t0.Add(time.Duration(i)*time.Second/30), ts)
		ts += 3000
	}
	// time.Second/30 is rounded to the nanosecond: allow that much.
	if j.j > 1e-3 {
		t.Fatalf("jitter %.6f ticks for paced packets", j.j)
	}
	var zero jitter
	if zero.ms() != 0 {
		t.Fatal("zero jitter reports a value")
	}
}
