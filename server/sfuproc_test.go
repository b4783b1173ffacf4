package server_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// sfuProc is a cluster node run as a real process built from ./cmd/sfu, so a
// test can kill it the way a machine dies: SIGKILL, no goodbye of any kind
// (no close frames, no registry leave, no directory release).
type sfuProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	done chan struct{}
}

// buildSFU builds the sfu binary into a test directory.
func buildSFU(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sfu")
	start := time.Now()
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/talkrelay/talkrelay/cmd/sfu").CombinedOutput(); err != nil {
		t.Fatalf("build sfu: %v\n%s", err, out)
	}
	t.Logf("built sfu in %v", time.Since(start).Round(time.Millisecond))
	return bin
}

// startSFUProc runs the binary as cluster node id on natsURL, in dev mode
// (the tests' token keys) on loopback, and waits until it serves HTTP.
func startSFUProc(t *testing.T, bin, natsURL, id string) *sfuProc {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin,
		"--data-dir", t.TempDir(), "--http-addr", fmt.Sprintf("127.0.0.1:%d", port),
		"--udp-port", "0", "--tcp-port", "0", "--turn-udp-port", "0", "--turn-tcp-port", "0",
		"--nats", natsURL, "--node-id", id, "--relay-addr", "127.0.0.1:0",
		"--cluster-secret", "test cluster secret 0123456789", "--log-level", "error")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &sfuProc{t: t, cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d", port), done: make(chan struct{})}
	// Reaper: owned by the test, ends when the process exits (kill at cleanup).
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.kill)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(p.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("sfu %s exited before serving", id)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sfu %s did not come up: %v", id, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill ends the process at once with SIGKILL and waits for it; idempotent.
func (p *sfuProc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.t.Errorf("sfu process %d did not exit after SIGKILL", p.cmd.Process.Pid)
	}
}

// freeze stops the process with SIGSTOP: alive to the kernel (its sockets
// accept connections, nothing resets them) but silent, as a hung node or one
// cut off by the network. Cleanup's kill ends it.
func (p *sfuProc) freeze() {
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		p.t.Fatalf("freeze sfu process: %v", err)
	}
}
