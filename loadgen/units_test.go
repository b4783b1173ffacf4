package loadgen

import "testing"

func TestParseBitrate(t *testing.T) {
	good := map[string]int{
		"800000": 800_000, "1500k": 1_500_000, "1500K": 1_500_000, "1.5M": 1_500_000, "1.5m": 1_500_000,
		"2.5Mbps": 2_500_000, " 64k ": 64_000, "0.5k": 500, "1G": 1_000_000_000,
	}
	for in, want := range good {
		if got, err := ParseBitrate(in); err != nil || got != want {
			t.Errorf("ParseBitrate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "k", "-5k", "0", "fast", "1.5X", "1e12", "NaN"} {
		if got, err := ParseBitrate(in); err == nil {
			t.Errorf("ParseBitrate(%q) = %d, want an error", in, got)
		}
	}
	for bps, want := range map[int]string{1_500_000: "1.5M", 800_000: "800k", 64_010: "64.01k", 999: "999"} {
		if got := FormatBitrate(bps); got != want {
			t.Errorf("FormatBitrate(%d) = %q, want %q", bps, got, want)
		}
	}
}
