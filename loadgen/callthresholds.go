package loadgen

import (
	"fmt"
	"time"
)

// CallThresholds say when a call run counts as broken (the CLI then exits
// 1). MaxLoss and MaxFailed are disabled when negative, so that 0 can
// demand none; MaxSetupP99 when zero.
type CallThresholds struct {
	MaxLoss     float64       // loss ratio, 0..1
	MaxFailed   int           // calls not connected at the end of the window
	MaxSetupP99 time.Duration // p99 of call setup time
}

// NoCallThresholds disables every check.
func NoCallThresholds() CallThresholds { return CallThresholds{MaxLoss: -1, MaxFailed: -1} }

// Check returns one message per violated threshold, empty when the run
// passes. A threshold on a figure that was not measured fails.
func (t CallThresholds) Check(r *CallReport) []string {
	var bad []string
	if t.MaxLoss >= 0 && r.LossRatio > t.MaxLoss {
		bad = append(bad, fmt.Sprintf("loss ratio %.5f > max %.5f", r.LossRatio, t.MaxLoss))
	}
	if t.MaxLoss >= 0 && r.PacketsExpected == 0 {
		bad = append(bad, "loss not measured: no packets expected in the window")
	}
	if t.MaxFailed >= 0 && r.CallsFailed > t.MaxFailed {
		bad = append(bad, fmt.Sprintf("calls failed %d > max %d", r.CallsFailed, t.MaxFailed))
	}
	bad = append(bad, checkP99("call setup", r.CallSetupMs, t.MaxSetupP99)...)
	return bad
}
