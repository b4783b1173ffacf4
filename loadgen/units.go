package loadgen

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseBitrate reads a bit rate in bits per second as people write it:
// "800000", "1500k", "1.5M" (k = 1000, M = 1,000,000; case-insensitive, an
// optional "bps" suffix is allowed).
func ParseBitrate(s string) (int, error) {
	t := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), "bps")
	mult := 1.0
	switch {
	case strings.HasSuffix(t, "k"):
		mult, t = 1e3, strings.TrimSuffix(t, "k")
	case strings.HasSuffix(t, "m"):
		mult, t = 1e6, strings.TrimSuffix(t, "m")
	case strings.HasSuffix(t, "g"):
		mult, t = 1e9, strings.TrimSuffix(t, "g")
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || !(v > 0) || !(v*mult <= 1e10) { // also refuses NaN and Inf
		return 0, fmt.Errorf("loadgen: bitrate %q: want a positive number of bits/s such as 800000, 1500k or 1.5M", s)
	}
	return int(v*mult + 0.5), nil
}

// FormatBitrate writes bps the way ParseBitrate reads it, for tables.
func FormatBitrate(bps int) string {
	switch {
	case bps >= 1e6 && bps%1e4 == 0:
		return strconv.FormatFloat(float64(bps)/1e6, 'f', -1, 64) + "M"
	case bps >= 1e3 && bps%10 == 0:
		return strconv.FormatFloat(float64(bps)/1e3, 'f', -1, 64) + "k"
	}
	return strconv.Itoa(bps)
}
