package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/loadgen"
)

// The load generator publishes through one node (--host-url) and watches
// through another (--url): media crosses the relay, chat crosses NATS, and
// the report sees every viewer connected and every message delivered.
func TestLoadgenAcrossTwoNodes(t *testing.T) {
	url := startNATS(t)
	a := clusterNode(t, url, "a", nil)
	b := clusterNode(t, url, "b", nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := loadgen.Run(ctx, loadgen.Config{
		URL: b.url, HostURL: a.url, Room: "across", Viewers: 6, FullViewers: 2,
		Duration: 3 * time.Second, Warmup: time.Second,
		Bitrate: 600_000, JoinRate: 20, Chatters: 2, ChatRate: 1,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("across nodes: %d connected, loss %.4f, %.0f pkt/s, latency %+v, chat %d of %d delivered",
		rep.ViewersConnected, rep.LossRatio, rep.DeliveredPPS, rep.LatencyMs, rep.ChatDelivered, rep.ChatExpected)
	if rep.ViewersConnected != 6 || rep.ViewersFailed != 0 {
		t.Fatalf("connected %d, failed %d: %+v", rep.ViewersConnected, rep.ViewersFailed, rep.Failures)
	}
	if rep.PacketsReceived == 0 || rep.LossRatio > 0.01 {
		t.Errorf("received %d packets, loss ratio %g", rep.PacketsReceived, rep.LossRatio)
	}
	if rep.ChatDeliveryRatio == nil || *rep.ChatDeliveryRatio != 1 {
		t.Errorf("chat delivery ratio %v (%d of %d)", rep.ChatDeliveryRatio, rep.ChatDelivered, rep.ChatExpected)
	}
}
