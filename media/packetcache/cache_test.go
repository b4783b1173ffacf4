package packetcache

import (
	"bytes"
	"testing"
)

// pkt builds a deterministic packet of length n whose bytes encode seq, so a
// test can tell which packet it got back.
func pkt(seq uint16, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(int(seq) + i*7)
	}
	return p
}

func TestNewRounding(t *testing.T) {
	for _, tc := range []struct{ in, want int }{
		{-1, 16}, {0, 16}, {1, 16}, {16, 16}, {17, 32}, {1000, 1024},
		{1024, 1024}, {1 << 20, 1 << 15},
	} {
		if got := New(tc.in).Len(); got != tc.want {
			t.Errorf("New(%d).Len() = %d, want %d", tc.in, got, tc.want)
		}
	}
}

type op struct {
	seq    uint16
	size   int // 0 means 100
	kf     bool
	ext    uint64
	ok     bool
	reset  bool // perform Reset instead of Store
	assert func(t *testing.T, c *Cache)
}

func TestStore(t *testing.T) {
	const base = 1 << 16
	headIs := func(want uint64) func(*testing.T, *Cache) {
		return func(t *testing.T, c *Cache) {
			t.Helper()
			if h, ok := c.Head(); !ok || h != want {
				t.Errorf("Head() = %d,%v want %d,true", h, ok, want)
			}
		}
	}
	kfIs := func(want uint64, wantOK bool) func(*testing.T, *Cache) {
		return func(t *testing.T, c *Cache) {
			t.Helper()
			if k, ok := c.LastKeyframe(); ok != wantOK || k != want {
				t.Errorf("LastKeyframe() = %d,%v want %d,%v", k, ok, want, wantOK)
			}
		}
	}
	missing := func(ext uint64) func(*testing.T, *Cache) {
		return func(t *testing.T, c *Cache) {
			t.Helper()
			if n, ok := c.Get(ext, make([]byte, MaxPacketSize)); ok {
				t.Errorf("Get(%d) = %d,true; want miss", ext, n)
			}
		}
	}
	tests := []struct {
		name string
		ops  []op
	}{
		{"wraparound", []op{
			{seq: 65534, ext: base + 65534, ok: true},
			{seq: 65535, ext: base + 65535, ok: true},
			{seq: 0, ext: base + 65536, ok: true},
			{seq: 1, ext: base + 65537, ok: true, assert: headIs(base + 65537)},
		}},
		{"backward wrap", []op{
			{seq: 1, ext: base + 1, ok: true},
			{seq: 65535, ext: base - 1, ok: true},
			{seq: 2, ext: base + 2, ok: true, assert: headIs(base + 2)},
		}},
		{"out of order", []op{
			{seq: 10, ext: base + 10, ok: true},
			{seq: 13, ext: base + 13, ok: true},
			{seq: 11, ext: base + 11, ok: true},
			{seq: 12, ext: base + 12, ok: true, assert: headIs(base + 13)},
		}},
		{"duplicates", []op{
			{seq: 5, ext: base + 5, ok: true},
			{seq: 5, size: 200, ext: base + 5, ok: true},
			{seq: 6, ext: base + 6, ok: true},
			{seq: 5, ext: base + 5, ok: true, assert: headIs(base + 6)},
		}},
		{"overwrite by newer", []op{
			{seq: 100, ext: base + 100, ok: true},
			{seq: 116, ext: base + 116, ok: true, assert: missing(base + 100)},
			{seq: 100, ext: base + 100, ok: false},
		}},
		{"too large", []op{
			{seq: 1, size: MaxPacketSize + 1, ext: base + 1, ok: false, assert: func(t *testing.T, c *Cache) {
				if _, ok := c.Head(); ok {
					t.Error("Head ok after rejected store")
				}
			}},
			{seq: 2, size: MaxPacketSize, ext: base + 2, ok: true},
		}},
		{"too old", []op{
			{seq: 100, ext: base + 100, ok: true},
			{seq: 84, ext: base + 84, ok: false, assert: missing(base + 84)},
			{seq: 85, ext: base + 85, ok: true},
		}},
		{"keyframe moves forward then expires", []op{
			{seq: 1, kf: true, ext: base + 1, ok: true, assert: kfIs(base+1, true)},
			{seq: 2, ext: base + 2, ok: true, assert: kfIs(base+1, true)},
			{seq: 5, kf: true, ext: base + 5, ok: true, assert: kfIs(base+5, true)},
			{seq: 4, kf: true, ext: base + 4, ok: true, assert: kfIs(base+5, true)},
			{seq: 20, ext: base + 20, ok: true, assert: kfIs(base+5, true)},
			{seq: 21, ext: base + 21, ok: true, assert: kfIs(0, false)},
		}},
		{"reset", []op{
			{seq: 40000, kf: true, ext: base + 40000, ok: true},
			{reset: true, assert: func(t *testing.T, c *Cache) {
				if _, ok := c.Head(); ok {
					t.Error("Head ok after Reset")
				}
				if _, ok := c.Extend(1); ok {
					t.Error("Extend ok after Reset")
				}
				kfIs(0, false)(t, c)
				missing(base+40000)(t, c)
			}},
			// numbering continues above the old stream's, so stale indexes miss
			{seq: 7, ext: 3*base + 7, ok: true, assert: headIs(3*base + 7)},
			{seq: 40000, ext: 3*base + 40000 - 65536, ok: false},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := New(16)
			dst := make([]byte, MaxPacketSize)
			stored := map[uint64][]byte{}
			for i, o := range tc.ops {
				if o.reset {
					c.Reset()
					clear(stored)
				} else {
					size := o.size
					if size == 0 {
						size = 100
					}
					p := pkt(o.seq, size)
					ext, ok := c.Store(o.seq, p, o.kf)
					if ext != o.ext || ok != o.ok {
						t.Fatalf("op %d: Store(%d) = %d,%v want %d,%v", i, o.seq, ext, ok, o.ext, o.ok)
					}
					if _, dup := stored[ext]; ok && !dup {
						stored[ext] = p
					}
					if ok {
						n, got := c.Get(ext, dst)
						if !got || !bytes.Equal(dst[:n], stored[ext]) {
							t.Fatalf("op %d: Get(%d) = %d,%v, wrong contents", i, ext, n, got)
						}
					}
				}
				if o.assert != nil {
					o.assert(t, c)
				}
			}
		})
	}
}

func TestGetSizes(t *testing.T) {
	c := New(64)
	dst := make([]byte, MaxPacketSize)
	for size := 0; size <= MaxPacketSize; size += 1 + size/8 {
		seq := uint16(size)
		p := pkt(seq, size)
		ext, ok := c.Store(seq, p, false)
		if !ok {
			t.Fatalf("Store size %d failed", size)
		}
		n, ok := c.Get(ext, dst)
		if !ok || !bytes.Equal(dst[:n], p) {
			t.Fatalf("size %d: Get = %d,%v, contents differ", size, n, ok)
		}
	}
	ext, _ := c.Store(2000, pkt(1, 1200), false)
	if _, ok := c.Get(ext, make([]byte, 1199)); ok {
		t.Error("Get into short dst succeeded")
	}
	if _, ok := c.Get(0, dst); ok {
		t.Error("Get(0) succeeded")
	}
	if _, ok := c.Get(ext+64, dst); ok {
		t.Error("Get of aliasing newer ext succeeded")
	}
}

func TestExtend(t *testing.T) {
	for _, tc := range []struct {
		head uint16
		seq  uint16
		want uint64 // relative to the head's extended sequence number
	}{
		{65535, 0, 1},
		{65535, 65530, -5 & (1<<64 - 1)},
		{0, 65535, 1<<64 - 1},
		{2, 65534, 1<<64 - 4},
		{65534, 1, 3},
		{100, 100, 0},
		{0, 32767, 32767},
		{0, 32768, -32768 & (1<<64 - 1)},
	} {
		c := New(16)
		if _, ok := c.Extend(tc.seq); ok {
			t.Fatal("Extend ok on empty cache")
		}
		head, _ := c.Store(tc.head, pkt(0, 10), false)
		got, ok := c.Extend(tc.seq)
		if !ok || got != head+tc.want {
			t.Errorf("head %d: Extend(%d) = %d,%v want %d", tc.head, tc.seq, got, ok, head+tc.want)
		}
		if uint16(got) != tc.seq {
			t.Errorf("Extend(%d) low bits = %d", tc.seq, uint16(got))
		}
	}
}

func TestContains(t *testing.T) {
	c := New(16)
	ext, _ := c.Store(9, pkt(9, 10), false)
	if !c.Contains(ext) || c.Contains(ext+1) || c.Contains(0) {
		t.Error("Contains wrong")
	}
}

func TestZeroAllocs(t *testing.T) {
	c := New(1024)
	p := pkt(0, 1200)
	dst := make([]byte, MaxPacketSize)
	var seq uint16
	if a := testing.AllocsPerRun(1000, func() {
		seq++
		c.Store(seq, p, seq%100 == 0)
	}); a != 0 {
		t.Errorf("Store allocs = %v", a)
	}
	head, _ := c.Head()
	if a := testing.AllocsPerRun(1000, func() {
		c.Get(head, dst)
		c.Extend(seq)
		c.LastKeyframe()
		c.Head()
	}); a != 0 {
		t.Errorf("Get allocs = %v", a)
	}
}
