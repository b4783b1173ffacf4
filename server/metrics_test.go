package server_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/talkrelay/talkrelay/auth"
)

// scrape reads /metrics over HTTP, as Prometheus does, and returns the raw
// exposition and every sample by its series (name{labels} as exposed).
func scrape(t *testing.T, base string) ([]byte, map[string]float64) {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	samples := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample line %q", line)
		}
		samples[line[:i]] = v
	}
	return body, samples
}

// A host, two viewers and a chat message move the main metrics, and a real
// scrape passes the Prometheus linter.
func TestMetricsEndToEnd(t *testing.T) {
	e := newEnv(t)
	v1 := e.join("m", "viewer1", auth.RoleViewer, (&recorder{}).onTrack)
	v2 := e.join("m", "viewer2", auth.RoleViewer, (&recorder{}).onTrack)
	h := e.startHost("m", "host", hostOptions{})
	newChatter(t, v1).send(t, map[string]any{"type": "send", "id": "1", "text": "hello"})

	want := map[string]func(float64) bool{
		`talkrelay_packets_total{direction="out",kind="video"}`: positive,
		`talkrelay_packets_total{direction="out",kind="audio"}`: positive,
		`talkrelay_bytes_total{direction="in",kind="video"}`:    positive,
		`talkrelay_viewers`:                                        equals(2),
		`talkrelay_participants{role="host"}`:                      equals(1),
		`talkrelay_rooms{type="live"}`:                             equals(1),
		`talkrelay_tracks{kind="video"}`:                           equals(1),
		`talkrelay_lives_started_total`:                            equals(1),
		`talkrelay_chat_messages_received_total`:                   equals(1),
		`talkrelay_chat_messages_delivered_total`:                  positive, // the message and system notices, to three members
		`talkrelay_join_latency_seconds_count`:                     equals(3),
		`talkrelay_first_keyframe_seconds_count`:                   positive,
		`talkrelay_forwarding_latency_seconds_count{kind="video"}`: positive,
		`talkrelay_websocket_connections`:                          equals(3),
		`talkrelay_data_channels`:                                  positive,
	}
	var body []byte
	var got map[string]float64
	deadline := time.Now().Add(10 * time.Second)
	for {
		body, got = scrape(t, e.url)
		bad := check(got, want)
		if len(bad) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics did not move: %s", strings.Join(bad, "; "))
		}
		time.Sleep(200 * time.Millisecond)
	}
	problems, err := promlint.New(bytes.NewReader(body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}

	// Ending the live records it: ended, its duration and its engagement (one
	// of two viewers chatted).
	h.stop()
	if err := h.c.EndLive(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the live's end in metrics", func() bool {
		_, got = scrape(t, e.url)
		return got[`talkrelay_lives_ended_total`] == 1 && got[`talkrelay_live_engagement_ratio_count`] == 1
	})
	if s := got[`talkrelay_live_engagement_ratio_sum`]; s != 0.5 {
		t.Errorf("engagement = %v, want 0.5", s)
	}

	// When everyone leaves, the gauges come back to zero: nothing leaks.
	for _, c := range []interface{ Close() error }{v1, v2, h.c} {
		_ = c.Close()
	}
	zero := map[string]func(float64) bool{
		`talkrelay_websocket_connections`:     equals(0),
		`talkrelay_data_channels`:             equals(0),
		`talkrelay_viewers`:                   equals(0),
		`talkrelay_participants{role="host"}`: equals(0),
		`talkrelay_rooms{type="live"}`:        equals(0),
		`talkrelay_tracks{kind="video"}`:      equals(0),
	}
	waitFor(t, 10*time.Second, "gauges back to zero", func() bool {
		_, got = scrape(t, e.url)
		return len(check(got, zero)) == 0
	})
	if got[`talkrelay_packets_total{direction="out",kind="video"}`] == 0 {
		t.Error("closed feeds' packets were forgotten")
	}
}

func check(got map[string]float64, want map[string]func(float64) bool) []string {
	var bad []string
	for k, ok := range want {
		v, present := got[k]
		if !present || !ok(v) {
			bad = append(bad, fmt.Sprintf("%s = %v (present %v)", k, v, present))
		}
	}
	return bad
}

func positive(v float64) bool { return v > 0 }

func equals(want float64) func(float64) bool { return func(v float64) bool { return v == want } }
