package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// cpuMetric is the Prometheus process collector's CPU counter, which the
// SFU exports at /metrics.
const cpuMetric = "process_cpu_seconds_total"

// maxMetricsBody bounds what a scrape reads; a /metrics page is a few KiB.
const maxMetricsBody = 4 << 20

// scrapeCPU reads the SFU's total CPU seconds from its metrics endpoint.
func scrapeCPU(ctx context.Context, hc *http.Client, url string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, fmt.Errorf("loadgen: metrics request: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("loadgen: scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("loadgen: scrape %s: %s", url, resp.Status)
	}
	v, err := parseCPUSeconds(io.LimitReader(resp.Body, maxMetricsBody))
	if err != nil {
		return 0, fmt.Errorf("loadgen: scrape %s: %w", url, err)
	}
	return v, nil
}

// parseCPUSeconds finds the CPU counter in the Prometheus text exposition
// format. Only the unlabelled sample is expected; a labelled one is
// accepted too, the first wins.
func parseCPUSeconds(r io.Reader) (float64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, ok := strings.Cut(line, " ")
		if i := strings.IndexByte(name, '{'); i >= 0 {
			// Labels may contain spaces: the value follows the closing brace.
			j := strings.LastIndexByte(line, '}')
			if j < 0 {
				continue
			}
			name, rest, ok = line[:i], line[j+1:], true
		}
		if !ok || name != cpuMetric {
			continue
		}
		fields := strings.Fields(rest) // value, optional timestamp
		if len(fields) == 0 {
			return 0, fmt.Errorf("%s without a value", cpuMetric)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return 0, fmt.Errorf("%s value %q: %w", cpuMetric, fields[0], err)
		}
		return v, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read metrics: %w", err)
	}
	return 0, errors.New(cpuMetric + " not found")
}

// cpuWindow reads the SFU's CPU counter and this process's CPU time at the
// start and end of a measuring window.
type cpuWindow struct {
	hc      *http.Client
	url     string
	sfu0    float64
	sfuErr  error
	self0   time.Duration
	selfErr error
}

// startCPUWindow takes the readings at the window's start.
func startCPUWindow(metricsURL string) *cpuWindow {
	w := &cpuWindow{hc: &http.Client{}, url: metricsURL}
	w.sfu0, w.sfuErr = scrapeCPU(context.Background(), w.hc, metricsURL)
	w.self0, w.selfErr = selfCPU()
	return w
}

// cpuUse is what a window cost: the SFU's CPU seconds (nil, with a note
// saying why, if unknown) and the generator's own CPU time.
type cpuUse struct {
	sfu     *float64
	sfuNote string
	self    time.Duration
}

// end takes the readings at the window's end.
func (w *cpuWindow) end() cpuUse {
	var u cpuUse
	self1, selfErr := selfCPU()
	if w.selfErr == nil && selfErr == nil {
		u.self = self1 - w.self0
	}
	var sfu1 float64
	err := w.sfuErr
	if err == nil {
		sfu1, err = scrapeCPU(context.Background(), w.hc, w.url)
	}
	if err != nil {
		u.sfuNote = err.Error()
		return u
	}
	d := sfu1 - w.sfu0
	u.sfu = &d
	return u
}
