package store

import (
	"fmt"
	"sync/atomic"
	"testing"
)

// BenchmarkAppendChat measures one durable append (the sequence read, the
// conditional publish, the fsync before the acknowledgement) on the embedded
// server, with the data directory on the test machine's temporary disk. Run it
// with TMPDIR on the disk that will hold the data for a figure that means
// something: the fsync dominates.
func BenchmarkAppendChat(b *testing.B) {
	for _, rooms := range []int{1, 100} {
		b.Run(fmt.Sprintf("rooms=%d", rooms), func(b *testing.B) {
			s := openTest(b, b.TempDir())
			ctx := testCtx(b)
			names := make([]string, rooms)
			for i := range names {
				names[i] = fmt.Sprint("room-", i)
			}
			m := ChatMessage{From: "alice", Name: "Alice", Text: "a typical chat line of about sixty bytes, give or take"}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				m.Room, m.ID = names[i%rooms], ""
				if _, err := s.AppendChat(ctx, m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkChatHistory measures the join-time read: the newest 50 messages of a
// room whose messages interleave with 9 other rooms'.
func BenchmarkChatHistory(b *testing.B) {
	s := openTest(b, b.TempDir())
	ctx := testCtx(b)
	for i := range 2000 {
		if _, err := s.AppendChat(ctx, ChatMessage{Room: fmt.Sprint("room-", i%10), Text: "hello"}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		got, err := s.ChatHistory(ctx, "room-3", 0, 50)
		if err != nil || len(got) != 50 {
			b.Fatalf("history: %d, %v", len(got), err)
		}
	}
}

// BenchmarkAppendChatParallel measures appends from many writers over 100 rooms:
// the node's chat throughput. All rooms share one stream, whose writes (each
// with its fsync) are serialised, so ns/op here is roughly the per-append time
// of BenchmarkAppendChat, not a fraction of it.
func BenchmarkAppendChatParallel(b *testing.B) {
	s := openTest(b, b.TempDir())
	ctx := testCtx(b)
	var next atomic.Int64
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		m := ChatMessage{From: "alice", Text: "a typical chat line"}
		for pb.Next() {
			m.Room, m.ID = fmt.Sprint("room-", next.Add(1)%100), ""
			if _, err := s.AppendChat(ctx, m); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
