package loadgen

import (
	"strings"
	"testing"
	"time"
)

func TestThresholds(t *testing.T) {
	chatRatio := 0.995
	good := &Report{
		ChatDeliveryRatio: &chatRatio,
		ViewersConnected:  200, LossRatio: 0.001, PacketsExpected: 1000,
		JoinMs:          &Percentiles{P50: 10, P95: 20, P99: 40, N: 200},
		FirstKeyframeMs: &Percentiles{P50: 100, P95: 200, P99: 300, N: 200},
	}
	strict := Thresholds{MaxLoss: 0.01, MaxChatLoss: 0.01, MaxJoinP99: 50 * time.Millisecond, MaxFirstKeyframeP99: time.Second, MinViewersConnected: 200}
	tests := []struct {
		name   string
		mutate func(*Report)
		th     Thresholds
		want   []string // substrings, one per expected violation
	}{
		{"passes", func(*Report) {}, strict, nil},
		{"nothing set", func(r *Report) { r.LossRatio, r.ViewersConnected = 0.9, 0 }, NoThresholds(), nil},
		{"loss", func(r *Report) { r.LossRatio = 0.02 }, strict, []string{"loss ratio"}},
		{"zero loss demanded", func(*Report) {}, Thresholds{MaxLoss: 0, MaxChatLoss: -1}, []string{"loss ratio"}},
		{"chat loss", func(r *Report) { x := 0.98; r.ChatDeliveryRatio = &x }, strict, []string{"chat loss 0.02000 > max 0.01000"}},
		{"zero chat loss demanded", func(*Report) {}, Thresholds{MaxLoss: -1, MaxChatLoss: 0}, []string{"chat loss"}},
		{"chat not measured", func(r *Report) { r.ChatDeliveryRatio, r.ChatNote = nil, ChatNote }, strict, []string{"chat loss not measured"}},
		{"loss not measured", func(r *Report) { r.PacketsExpected, r.LossRatio = 0, 0 }, strict, []string{"loss not measured"}},
		{"join p99", func(r *Report) { r.JoinMs.P99 = 51 }, strict, []string{"join p99"}},
		{"first keyframe p99", func(r *Report) { r.FirstKeyframeMs.P99 = 1001 }, strict, []string{"first keyframe p99"}},
		{"no keyframes", func(r *Report) { r.FirstKeyframeMs = nil }, strict, []string{"first keyframe p99 not measured"}},
		{"viewers", func(r *Report) { r.ViewersConnected = 199 }, strict, []string{"viewers connected 199 < min 200"}},
		{"several", func(r *Report) { r.LossRatio, r.ViewersConnected = 0.5, 3 }, strict, []string{"loss ratio", "viewers connected"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := *good
			j, k := *good.JoinMs, *good.FirstKeyframeMs
			r.JoinMs, r.FirstKeyframeMs = &j, &k
			tc.mutate(&r)
			got := tc.th.Check(&r)
			if len(got) != len(tc.want) {
				t.Fatalf("violations %q, want %d matching %q", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("violation %q does not mention %q", got[i], w)
				}
			}
		})
	}
}
