package metrics_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/talkrelay/talkrelay/metrics"
)

// newFull returns a registry with every talkrelay metric, each recorded once so
// that vectors and histograms appear in a scrape.
func newFull(t *testing.T) *metrics.Registry {
	t.Helper()
	reg := metrics.New()
	s := metrics.NewSFU(reg.Registerer())
	media := func() (a, v metrics.MediaCounters) {
		return metrics.MediaCounters{Tracks: 1, PacketsIn: 10, PacketsOut: 20},
			metrics.MediaCounters{Tracks: 1, PacketsIn: 100, PacketsOut: 200, QueueDrops: 3}
	}
	rooms := func() metrics.RoomCounts { return metrics.RoomCounts{Rooms: 2, Lives: 1, Hosts: 1, Viewers: 7} }
	if err := reg.Register(metrics.NewMediaCollector(media), metrics.NewRoomCollector(rooms)); err != nil {
		t.Fatal(err)
	}
	s.ForwardLatency(metrics.KindVideo).Observe(0.001)
	s.ForwardLatency(metrics.KindAudio).Observe(0.001)
	s.FirstKeyframe.Observe(0.1)
	s.JoinLatency.Observe(0.01)
	s.ChatStore.Observe(0.002)
	s.LiveDuration.Observe(60)
	s.Engagement.Observe(0.25)
	s.ChatRejected("rate_limited")
	return reg
}

// Every metric passes the Prometheus linter: naming, units, help texts.
func TestLint(t *testing.T) {
	mfs, err := newFull(t).Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	var ours int
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), metrics.Namespace+"_") {
			continue
		}
		ours++
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "kind", "direction", "role", "reason", "state", "type":
				default:
					t.Errorf("%s: label %q is not from the fixed set", mf.GetName(), l.GetName())
				}
			}
		}
	}
	if ours < 25 {
		t.Errorf("only %d talkrelay metric families gathered", ours)
	}
}

// The scrape-time collectors report what their sources say, per kind and reason.
func TestCollectors(t *testing.T) {
	reg := newFull(t)
	want := `
# HELP talkrelay_viewers Viewers watching, over all rooms.
# TYPE talkrelay_viewers gauge
talkrelay_viewers 7
# HELP talkrelay_packets_total RTP packets received from publishers (in) and sent to viewers (out).
# TYPE talkrelay_packets_total counter
talkrelay_packets_total{direction="in",kind="audio"} 10
talkrelay_packets_total{direction="in",kind="video"} 100
talkrelay_packets_total{direction="out",kind="audio"} 20
talkrelay_packets_total{direction="out",kind="video"} 200
`
	if err := testutil.GatherAndCompare(reg.Gatherer(), strings.NewReader(want), "talkrelay_viewers", "talkrelay_packets_total"); err != nil {
		t.Fatal(err)
	}
	n, err := testutil.GatherAndCount(reg.Gatherer(), "talkrelay_packets_dropped_total")
	if err != nil || n != 8 {
		t.Fatalf("dropped series = %d, %v; want 2 kinds x 4 reasons", n, err)
	}
}
