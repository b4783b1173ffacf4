package packetcache

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"testing"
)

// stamped builds a packet whose every 8-byte word is ext and whose length
// depends on ext, so a torn read is detectable.
func stamped(buf []byte, ext uint64) []byte {
	n := 64 + int(ext%1100)
	p := buf[:n]
	for i := 0; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(p[i:], ext)
	}
	for i := n &^ 7; i < n; i++ {
		p[i] = byte(ext)
	}
	return p
}

// TestConcurrent runs one writer and several readers; readers must only
// ever see complete, correct packets. Run it with -race.
func TestConcurrent(t *testing.T) {
	c := New(64)
	const total = 20000
	var done atomic.Bool
	var wg sync.WaitGroup
	var hits atomic.Int64
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dst := make([]byte, MaxPacketSize)
			want := make([]byte, MaxPacketSize)
			for !done.Load() {
				head, ok := c.Head()
				if !ok {
					continue
				}
				for back := uint64(0); back < 80; back += 3 {
					ext := head - back
					n, ok := c.Get(ext, dst)
					if !ok {
						continue
					}
					hits.Add(1)
					if w := stamped(want, ext); string(dst[:n]) != string(w) {
						t.Errorf("torn read of %d: len %d want %d", ext, n, len(w))
						return
					}
				}
				if kf, ok := c.LastKeyframe(); ok && kf%10 != 0 {
					t.Errorf("LastKeyframe %d is not a keyframe", kf)
					return
				}
				if e, ok := c.Extend(uint16(head)); ok && uint16(e) != uint16(head) {
					t.Errorf("Extend(%d) = %d", uint16(head), e)
					return
				}
			}
		}()
	}
	buf := make([]byte, MaxPacketSize)
	var seq uint16 = 65000 // cross the wrap during the run
	for i := 0; i < total; i++ {
		head, _ := c.Head()
		ext := unwrap(c.start, head, seq)
		if got, ok := c.Store(seq, stamped(buf, ext), ext%10 == 0); !ok || got != ext {
			t.Fatalf("Store(%d) = %d,%v want %d", seq, got, ok, ext)
		}
		seq++
		if i == total/2 {
			c.Reset()
		}
	}
	done.Store(true)
	wg.Wait()
	if hits.Load() == 0 {
		t.Error("readers never hit")
	}
}

func BenchmarkStore(b *testing.B) {
	c := New(1024)
	p := pkt(0, 1200)
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	var seq uint16
	for b.Loop() {
		c.Store(seq, p, false)
		seq++
	}
}

func fill(c *Cache, size int) uint64 {
	p := pkt(0, size)
	var ext uint64
	for i := 0; i < c.Len(); i++ {
		ext, _ = c.Store(uint16(i), p, false)
	}
	return ext
}

func BenchmarkGet(b *testing.B) {
	c := New(1024)
	head := fill(c, 1200)
	dst := make([]byte, MaxPacketSize)
	b.ReportAllocs()
	b.SetBytes(1200)
	i := uint64(0)
	for b.Loop() {
		if _, ok := c.Get(head-i&1023, dst); !ok {
			b.Fatal("miss")
		}
		i++
	}
}

// BenchmarkParallelGet has all readers fetch the same few fresh packets,
// the fan-out pattern where a shared lock would bounce between cores.
func BenchmarkParallelGet(b *testing.B) {
	c := New(1024)
	head := fill(c, 1200)
	b.ReportAllocs()
	b.SetBytes(1200)
	b.RunParallel(func(pb *testing.PB) {
		dst := make([]byte, MaxPacketSize)
		i := uint64(0)
		for pb.Next() {
			if _, ok := c.Get(head-i&3, dst); !ok {
				b.Error("miss")
				return
			}
			i++
		}
	})
}
