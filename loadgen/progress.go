package loadgen

import (
	"context"
	"fmt"
	"time"
)

// progress prints a status line every ProgressInterval until ctx ends, then
// closes done. Its numbers are since each viewer connected, not the window.
func (r *run) progress(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(r.cfg.ProgressInterval)
	defer t.Stop()
	var lastRecv uint64
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			var expected, received uint64
			for _, v := range r.viewers {
				s := v.rx.snapshot(false)
				expected += s.totalExpected
				received += s.totalReceived
			}
			pps := float64(received-lastRecv) / now.Sub(last).Seconds()
			lastRecv, last = received, now
			fmt.Fprintln(r.cfg.Progress, progressLine(now.Sub(r.began), r.stage.Load().(string),
				r.connected.Load(), r.cfg.Viewers, pps, expected, received)+r.chatProgress())
		}
	}
}

func progressLine(elapsed time.Duration, stage string, connected int64, viewers int, pps float64, expected, received uint64) string {
	loss := 0.0
	if expected > received {
		loss = float64(expected-received) / float64(expected)
	}
	return fmt.Sprintf("loadgen %6.1fs %-10s connected %d/%d  delivered %8.0f pps  loss so far %.3f%%",
		elapsed.Seconds(), stage, connected, viewers, pps, loss*100)
}
