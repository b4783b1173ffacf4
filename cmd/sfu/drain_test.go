package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/client"
)

// freePort returns a TCP (and, likely, UDP) port nobody listens on.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startSFU builds and runs the real binary in dev mode on loopback.
func startSFU(t *testing.T, bin, dataDir string, httpPort, udpPort int) *exec.Cmd {
	t.Helper()
	// ICE-TCP and TURN on free ports: their defaults (7881, 3478) may be taken.
	turnPort := freePort(t)
	cmd := exec.Command(bin, "--data-dir", dataDir, "--http-addr", fmt.Sprintf("127.0.0.1:%d", httpPort),
		"--udp-port", fmt.Sprint(udpPort), "--tcp-port", fmt.Sprint(freePort(t)),
		"--turn-udp-port", fmt.Sprint(turnPort), "--turn-tcp-port", fmt.Sprint(turnPort), "--log-level", "warn")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", httpPort)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return cmd
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("sfu did not come up: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// SIGTERM drains: clients hear server_shutdown, the process exits within
// 10 s, and every chat message the server acknowledged is in the history after
// a restart on the same data directory.
func TestSIGTERMDrainsAndLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "sfu")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")
	httpPort, udpPort := freePort(t), freePort(t)
	cmd := startSFU(t, bin, data, httpPort, udpPort)
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	minter, err := auth.NewMinter(auth.DevAPIKey, auth.DevAPISecret)
	if err != nil {
		t.Fatal(err)
	}
	tok := func(identity string, role auth.Role) string {
		s, err := minter.Mint(auth.Grant{Identity: identity, Room: "drain", Role: role}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	api, err := client.NewAPI(client.APIOptions{IncludeLoopback: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Join(ctx, client.Config{URL: base, Token: tok("v", auth.RoleViewer), Room: "drain", API: api})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case <-c.ChatReady():
	case <-ctx.Done():
		t.Fatal("chat channel did not open")
	}
	// Send chat and count the acknowledgements.
	acked := map[string]bool{}
	for i := range 20 {
		if err := c.SendChat(fmt.Appendf(nil, `{"type":"send","id":"m%d","text":"message %d"}`, i, i)); err != nil {
			t.Fatal(err)
		}
	}
	for len(acked) < 20 {
		select {
		case b := <-c.ChatMessages():
			var f struct{ Type, ID string }
			if json.Unmarshal(b, &f) == nil && f.Type == "ack" {
				acked[f.ID] = true
			}
		case <-ctx.Done():
			t.Fatalf("only %d acks", len(acked))
		}
	}

	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("sfu exited with %v", err)
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("sfu did not exit within 10 s of SIGTERM")
	}
	t.Logf("exited %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	<-c.Done()
	if !errors.Is(c.Err(), client.ErrServerShutdown) {
		t.Errorf("client ended with %v, want server_shutdown", c.Err())
	}

	// Restart on the same data: the history holds every acknowledged message.
	cmd = startSFU(t, bin, data, httpPort, udpPort)
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/rooms/drain/chat?limit=500", nil)
	req.Header.Set("Authorization", "Bearer "+tok("v", auth.RoleViewer))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var hist struct {
		Messages []struct{ Text, Kind string }
	}
	sc := bufio.NewReader(resp.Body)
	if err := json.NewDecoder(sc).Decode(&hist); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range hist.Messages {
		if strings.HasPrefix(m.Text, "message ") {
			n++
		}
	}
	if n != 20 {
		t.Errorf("%d of 20 acknowledged messages in the history after the restart", n)
	}
}
