package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/auth"
)

const (
	prometheusBin = "/usr/bin/prometheus"
	promtoolBin   = "/usr/bin/promtool"
	dashboardDir  = "../metrics/dashboards"
)

// A real Prometheus scrapes an SFU under a short load (two lives, viewers, chat,
// one live ended), and every PromQL expression of the Grafana dashboards returns
// data through its HTTP API: a dashboard cannot silently show nothing.
// promtool also checks a scrape.
func TestPrometheusDashboards(t *testing.T) {
	if _, err := os.Stat(prometheusBin); err != nil {
		t.Skipf("%s not installed (Debian package prometheus; .ci/run installs it): %v", prometheusBin, err)
	}
	exprs := dashboardExprs(t)
	e := newEnv(t)
	loadForDashboards(t, e)
	checkWithPromtool(t, e.url)

	api := startPrometheus(t, strings.TrimPrefix(e.url, "http://"))
	deadline := time.Now().Add(30 * time.Second)
	for _, expr := range exprs {
		for {
			n, err := queryCount(api, expr)
			if err != nil {
				t.Fatalf("query %q: %v", expr, err)
			}
			if n > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("dashboard expression returns no data: %s", expr)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	t.Logf("%d dashboard expressions return data", len(exprs))
}

// loadForDashboards runs one live with two viewers that keeps going, and a
// second live with a viewer who chats (once refused), which then ends.
func loadForDashboards(t *testing.T, e *env) {
	t.Helper()
	v := e.join("on", "viewer1", auth.RoleViewer, (&recorder{}).onTrack)
	e.join("on", "viewer2", auth.RoleViewer, (&recorder{}).onTrack)
	e.startHost("on", "host", hostOptions{})
	ch := newChatter(t, v)
	ch.send(t, map[string]any{"type": "send", "id": "1", "text": "hello"})
	ch.send(t, map[string]any{"type": "send", "id": "2", "text": "   "}) // refused: empty

	ended := e.join("ended", "viewer", auth.RoleViewer, (&recorder{}).onTrack)
	h := e.startHost("ended", "host2", hostOptions{})
	newChatter(t, ended).send(t, map[string]any{"type": "send", "id": "1", "text": "bye"})
	waitFor(t, 10*time.Second, "the chat to be acknowledged", func() bool {
		_, ok := ch.find("ack", "1")
		return ok
	})
	time.Sleep(time.Second)
	h.stop()
	if err := h.c.EndLive(); err != nil {
		t.Fatal(err)
	}
}

// checkWithPromtool pipes a scrape through `promtool check metrics`.
func checkWithPromtool(t *testing.T, base string) {
	t.Helper()
	if _, err := os.Stat(promtoolBin); err != nil {
		t.Skipf("%s not installed (Debian package prometheus): %v", promtoolBin, err)
	}
	body, _ := scrape(t, base)
	cmd := exec.Command(promtoolBin, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// dashboardExprs collects every "expr" of the dashboards' JSON, sorted and unique.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dashboardDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in %s: %v", dashboardDir, err)
	}
	seen := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "expr" {
					seen[s] = true
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d any
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		walk(d)
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// startPrometheus runs Prometheus on a free loopback port with its own config
// and storage, scraping target every second, and returns its base URL once ready.
func startPrometheus(t *testing.T, target string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: talkrelay
    static_configs:
      - targets: [%q]
`, target)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	var logs bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, prometheusBin,
		"--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start prometheus: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus output:\n%s", logs.String())
		}
	})
	base := "http://" + addr
	waitFor(t, 20*time.Second, "prometheus to be ready", func() bool {
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return base
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// queryCount evaluates expr now and returns how many series it gave.
func queryCount(base, expr string) (int, error) {
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		return 0, fmt.Errorf("query: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("read answer: %w", err)
	}
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return 0, fmt.Errorf("decode %s: %w", b, err)
	}
	if r.Status != "success" {
		return 0, fmt.Errorf("prometheus: %s", r.Error)
	}
	return len(r.Data.Result), nil
}
