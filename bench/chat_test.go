package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/chat"
)

// countingRecipient is a chat recipient whose channel is always drained.
type countingRecipient struct{ total *atomic.Int64 }

func (r countingRecipient) Send([]byte) error { r.total.Add(1); return nil }
func (r countingRecipient) Buffered() uint64  { return 0 }

// BenchmarkChatFanout posts one chat message per op to a room of N members
// through the hub (store append, serialize once, deliver to every member);
// ns/delivery is the process CPU per message per recipient.
func BenchmarkChatFanout(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("recipients=%d", n), func(b *testing.B) {
			st := chat.NewMemoryStore()
			st.MaxPerRoom = 1000
			h := chat.NewHub(chat.Config{Store: st, BatchInterval: time.Millisecond})
			defer h.Close()
			var total atomic.Int64
			ctx := context.Background()
			for i := 0; i < n; i++ {
				if _, err := h.Join(ctx, "bench", chat.Participant{Identity: fmt.Sprint(i)}, countingRecipient{&total}); err != nil {
					b.Fatal(err)
				}
			}
			text := "a typical chat line, about sixty bytes long, with an emoji 🎉"
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime(b)
			for i := 0; i < b.N; i++ {
				if _, err := h.System(ctx, "bench", text); err != nil {
					b.Fatal(err)
				}
				for want := int64((i + 1) * n); total.Load() < want; {
					time.Sleep(20 * time.Microsecond)
				}
			}
			cpu := cpuTime(b) - cpu0
			b.StopTimer()
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "ns/delivery")
		})
	}
}
