package loadgen

import (
	"strings"
	"testing"
)

func TestParseCPUSeconds(t *testing.T) {
	page := `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 42
# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.75
process_cpu_seconds_total_other 1
`
	if v, err := parseCPUSeconds(strings.NewReader(page)); err != nil || v != 12.75 {
		t.Fatalf("got %v, %v; want 12.75", v, err)
	}
	labelled := `process_cpu_seconds_total{instance="a b"} 3.5e+00 1700000000000` + "\n"
	if v, err := parseCPUSeconds(strings.NewReader(labelled)); err != nil || v != 3.5 {
		t.Fatalf("labelled: got %v, %v", v, err)
	}
	for _, bad := range []string{"", "go_goroutines 1\n", "process_cpu_seconds_total abc\n", "process_cpu_seconds_total\n"} {
		if _, err := parseCPUSeconds(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
