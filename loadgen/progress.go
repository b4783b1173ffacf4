package loadgen

import (
	"context"
	"fmt"
	"io"
	"time"
)

// progress prints a status line every ProgressInterval until ctx ends, then
// closes done. Its numbers are since each viewer connected, not the window.
func (r *run) progress(ctx context.Context, done chan<- struct{}) {
	rxs := make([]*receiver, len(r.viewers))
	for i, v := range r.viewers {
		rxs[i] = v.rx
	}
	progressLoop(ctx, done, r.cfg.Progress, r.cfg.ProgressInterval, rxs,
		func(now time.Time, pps float64, expected, received uint64) string {
			return progressLine(now.Sub(r.began), r.stage.Load().(string),
				r.connected.Load(), r.cfg.Viewers, pps, expected, received) + r.chatProgress()
		})
}

// startProgress runs a scenario's progress loop on a goroutine of its own;
// the returned function stops it and waits for it to end.
func startProgress(progress func(ctx context.Context, done chan<- struct{})) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go progress(ctx, done)
	return func() { cancel(); <-done }
}

// progressLoop writes line's result to out every interval until ctx ends,
// then closes done. line is given the packets rxs expected and received
// since each started and the delivery rate since the last line.
func progressLoop(ctx context.Context, done chan<- struct{}, out io.Writer, interval time.Duration, rxs []*receiver,
	line func(now time.Time, pps float64, expected, received uint64) string) {
	defer close(done)
	t := time.NewTicker(interval)
	defer t.Stop()
	var lastRecv uint64
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			var expected, received uint64
			for _, rx := range rxs {
				s := rx.snapshot(false)
				expected += s.totalExpected
				received += s.totalReceived
			}
			pps := float64(received-lastRecv) / now.Sub(last).Seconds()
			lastRecv, last = received, now
			fmt.Fprintln(out, line(now, pps, expected, received))
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
