package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/server/servertest"
)

func TestParseGroupDefaults(t *testing.T) {
	f, err := parseGroup(strings.Fields("--url http://127.0.0.1:7880 --speakers 10 --listeners 40 --duration 20s --json"), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	c := f.cfg
	if c.Speakers != 10 || c.Listeners != 40 || c.Duration != 20*time.Second || !f.jsonOut || c.Room != "group-bench" ||
		c.SampleInterval != 100*time.Millisecond || c.StreamWindow != 300*time.Millisecond ||
		f.th.MaxLoss >= 0 || f.th.MaxStreams >= 0 || f.th.MaxFailed >= 0 {
		t.Fatalf("parsed %+v %+v", c, f.th)
	}
	var errOut bytes.Buffer
	if code := run(context.Background(), []string{"group", "--speakers", "0"}, &bytes.Buffer{}, &errOut); code != exitUsage ||
		!strings.Contains(errOut.String(), "speakers must be at least 1") {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
}

// A real group run prints its JSON report; with thresholds it meets it exits 0.
func TestGroupRuns(t *testing.T) {
	srv := servertest.Start(t)
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"group", "--url", srv.URL, "--speakers", "4", "--listeners", "2",
		"--duration", "2s", "--warmup", "500ms", "--json", "--max-loss", "0", "--max-failed", "0"}, &out, &errOut)
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut.String())
	}
	var rep struct {
		LossRatio          *float64 `json:"loss_ratio"`
		StreamsPerListener *struct {
			P50 float64 `json:"p50"`
			Max float64 `json:"max"`
		} `json:"streams_per_listener"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, out.String())
	}
	if rep.LossRatio == nil || rep.StreamsPerListener == nil || rep.StreamsPerListener.P50 != 3 {
		t.Fatalf("report %s", out.String())
	}
}
