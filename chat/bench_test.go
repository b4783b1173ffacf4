package chat

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// countingRecipient is the cheapest possible data channel: it counts what it gets.
type countingRecipient struct{ frames, bytes int }

func (c *countingRecipient) Send(b []byte) error {
	c.frames++
	c.bytes += len(b)
	return nil
}

func (c *countingRecipient) Buffered() uint64 { return 0 }

// BenchmarkFanout1000 measures one message fanned out to 1,000 recipients: the
// flusher's pass over the members, framing once and handing the same bytes to each.
// One op is one message to all of them (store append included); ns/delivery is the
// cost per recipient.
func BenchmarkFanout1000(b *testing.B) { benchmarkFanout(b, 1000) }

// BenchmarkFanout10000 is the same for the 10,000-viewer room the design targets.
func BenchmarkFanout10000(b *testing.B) { benchmarkFanout(b, 10000) }

func benchmarkFanout(b *testing.B, n int) {
	st := NewMemoryStore()
	st.MaxPerRoom = 1000
	// The batch timer never fires: the benchmark runs each flush itself.
	h := NewHub(Config{Store: st, LargeRoom: 1, BatchInterval: time.Hour})
	defer h.Close()
	recs := make([]*countingRecipient, n)
	for i := range recs {
		recs[i] = &countingRecipient{}
		if _, err := h.Join(context.Background(), "bench", Participant{Identity: fmt.Sprint(i)}, recs[i]); err != nil {
			b.Fatal(err)
		}
	}
	r := roomOf(b, h, "bench")
	ctx := context.Background()
	text := "a typical chat line, about sixty bytes long, with an emoji 🎉"
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := h.System(ctx, "bench", text); err != nil {
			b.Fatal(err)
		}
		r.flush()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/delivery")
	if recs[n-1].frames != b.N {
		b.Fatalf("last recipient got %d frames for %d messages", recs[n-1].frames, b.N)
	}
}
