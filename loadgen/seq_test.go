package loadgen

import "testing"

// feed pushes seqs through a tracker into one span, as a stream does.
func feed(seqs ...uint16) (span, seqTracker) {
	var t seqTracker
	var s span
	for _, q := range seqs {
		if ext, fresh := t.push(q); fresh {
			s.add(ext)
		}
	}
	return s, t
}

func TestLossCounting(t *testing.T) {
	tests := []struct {
		name                                 string
		seqs                                 []uint16
		expected, received, lost, dups, late uint64
	}{
		{"in order", []uint16{10, 11, 12, 13}, 4, 4, 0, 0, 0},
		{"gaps", []uint16{10, 11, 14, 15, 20}, 11, 5, 6, 0, 0},
		{"duplicates", []uint16{1, 2, 2, 3, 3, 3, 4}, 4, 4, 0, 3, 0},
		{"reordered fill their gaps", []uint16{1, 3, 2, 5, 4, 6}, 6, 6, 0, 0, 0},
		{"reordered duplicate", []uint16{1, 3, 2, 2, 4}, 4, 4, 0, 1, 0},
		{"wrap", []uint16{65533, 65534, 65535, 0, 1, 2}, 6, 6, 0, 0, 0},
		{"wrap with gap", []uint16{65534, 65535, 2, 3}, 6, 4, 2, 0, 0},
		{"reordered across wrap", []uint16{65534, 0, 65535, 1}, 4, 4, 0, 0, 0},
		{"reordered before the first", []uint16{5, 6, 4, 7}, 4, 4, 0, 0, 0},
		{"late beyond the window", append(seqRange(100, 100+reorderWindow+10), 101), reorderWindow + 10, reorderWindow + 10, 0, 0, 1},
		{"jump larger than the window", []uint16{1, 2, 2000, 2001, 2}, 2001, 4, 1997, 0, 1},
		{"many wraps", seqRange(60000, 60000+3*65536), 3 * 65536, 3 * 65536, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, tr := feed(tc.seqs...)
			if s.expected() != tc.expected || s.received != tc.received || s.lost() != tc.lost ||
				tr.dups != tc.dups || tr.late != tc.late {
				t.Fatalf("expected %d received %d lost %d dups %d late %d; want %d %d %d %d %d",
					s.expected(), s.received, s.lost(), tr.dups, tr.late,
					tc.expected, tc.received, tc.lost, tc.dups, tc.late)
			}
		})
	}
}

// seqRange returns the 16-bit sequence numbers for [from, to).
func seqRange(from, to int) []uint16 {
	var s []uint16
	for i := from; i < to; i++ {
		s = append(s, uint16(i))
	}
	return s
}

func TestWindowSpan(t *testing.T) {
	// A window counts only what arrived in it: packets before it do not make
	// it expect more, and a gap inside it is loss.
	var tr seqTracker
	var total, window span
	for i, q := range []uint16{1, 2, 3, 4, 6, 7, 9, 8} {
		ext, fresh := tr.push(q)
		if !fresh {
			continue
		}
		total.add(ext)
		if i >= 3 { // window opens at seq 4
			window.add(ext)
		}
	}
	if total.expected() != 9 || total.lost() != 1 {
		t.Fatalf("total expected %d lost %d", total.expected(), total.lost())
	}
	if window.expected() != 6 || window.received != 5 || window.lost() != 1 {
		t.Fatalf("window expected %d received %d lost %d", window.expected(), window.received, window.lost())
	}
	var empty span
	if empty.expected() != 0 || empty.lost() != 0 {
		t.Fatal("empty span expects packets")
	}
}
