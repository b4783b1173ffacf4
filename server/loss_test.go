package server_test

import (
	"slices"
	"testing"
	"time"
)

// A viewer losing 5 % of its packets at random gets its stream repaired: its
// NACKs are answered from the SFU's cache, so over a 20 s window it ends up
// missing (almost) nothing.
func TestViewerLossIsRepaired(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 20 s")
	}
	e := newEnv(t)
	e.startHost("lossy", "host", hostOptions{})
	w := e.joinWatcher("lossy", "viewer")
	waitFor(t, 10*time.Second, "video", func() bool { return w.videoPkts.Load() > 50 })
	w.link.Set(0.05, 0)
	w.mu.Lock()
	from := len(w.videoSeqs)
	w.mu.Unlock()
	time.Sleep(20 * time.Second)
	w.link.Set(0, 0)
	time.Sleep(time.Second) // the last repairs arrive
	dropped, passed := w.link.Counts()

	w.mu.Lock()
	seqs := slices.Clone(w.videoSeqs[from:])
	w.mu.Unlock()
	// Unwrap and count the distinct sequence numbers within the window's range.
	seen := map[int64]bool{}
	var ext, lo, hi int64
	for i, s := range seqs {
		if i == 0 {
			ext = int64(s)
			lo, hi = ext, ext
		} else {
			ext += int64(int16(s - uint16(ext)))
		}
		seen[ext] = true
		lo, hi = min(lo, ext), max(hi, ext)
	}
	expected := hi - lo + 1
	missing := expected - int64(len(seen))
	t.Logf("link dropped %d of %d packets (%.1f %%); video: %d expected, %d received (%d retransmitted copies), %d never repaired",
		dropped, dropped+passed, 100*float64(dropped)/float64(dropped+passed), expected, len(seen), len(seqs)-len(seen), missing)
	if dropped == 0 {
		t.Fatal("the link dropped nothing: the test tested nothing")
	}
	// The bound: a packet is lost for good only if it and every retransmission
	// of it were dropped (5 % each), or its NACKs came after it left the cache.
	if bound := expected / 500; missing > bound {
		t.Errorf("%d of %d video packets never repaired, over the bound of %d (0.2 %%)", missing, expected, bound)
	}
}
