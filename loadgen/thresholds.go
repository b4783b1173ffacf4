package loadgen

import (
	"fmt"
	"time"
)

// Thresholds say when a run counts as broken (the CLI then exits 1). Zero
// values disable a check, except MaxLoss and MaxChatLoss, which are disabled
// when negative so that 0 can demand no loss at all.
type Thresholds struct {
	MaxLoss             float64       // loss ratio, 0..1
	MaxChatLoss         float64       // 1 - chat delivery ratio, 0..1
	MaxJoinP99          time.Duration // p99 of join time
	MaxFirstKeyframeP99 time.Duration // p99 of time to first keyframe
	MinViewersConnected int
}

// NoThresholds disables every check.
func NoThresholds() Thresholds { return Thresholds{MaxLoss: -1, MaxChatLoss: -1} }

// Check returns one message per violated threshold, empty when the run
// passes. A threshold on a figure that was not measured at all fails: a
// run that produced no samples has not shown that it is fast.
func (t Thresholds) Check(r *Report) []string {
	var bad []string
	if t.MaxLoss >= 0 && r.LossRatio > t.MaxLoss {
		bad = append(bad, fmt.Sprintf("loss ratio %.5f > max %.5f", r.LossRatio, t.MaxLoss))
	}
	if t.MaxLoss >= 0 && r.PacketsExpected == 0 {
		bad = append(bad, "loss not measured: no packets expected in the window")
	}
	if t.MaxChatLoss >= 0 {
		if r.ChatDeliveryRatio == nil {
			note := r.ChatNote
			if note == "" {
				note = "no chat delivery ratio"
			}
			bad = append(bad, fmt.Sprintf("chat loss not measured (max %.5f): %s", t.MaxChatLoss, note))
		} else if loss := 1 - *r.ChatDeliveryRatio; loss > t.MaxChatLoss {
			bad = append(bad, fmt.Sprintf("chat loss %.5f > max %.5f", loss, t.MaxChatLoss))
		}
	}
	bad = append(bad, checkP99("join", r.JoinMs, t.MaxJoinP99)...)
	bad = append(bad, checkP99("first keyframe", r.FirstKeyframeMs, t.MaxFirstKeyframeP99)...)
	if t.MinViewersConnected > 0 && r.ViewersConnected < t.MinViewersConnected {
		bad = append(bad, fmt.Sprintf("viewers connected %d < min %d", r.ViewersConnected, t.MinViewersConnected))
	}
	return bad
}

func checkP99(what string, p *Percentiles, limit time.Duration) []string {
	switch {
	case limit <= 0:
		return nil
	case p == nil:
		return []string{fmt.Sprintf("%s p99 not measured (max %v)", what, limit)}
	case p.P99 > ms(limit):
		return []string{fmt.Sprintf("%s p99 %.1f ms > max %v", what, p.P99, limit)}
	}
	return nil
}
