// Package servertest starts real talkrelay nodes on loopback for tests of any
// package: HTTP and media on 127.0.0.1, dev credentials, shut down at cleanup.
package servertest

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/server"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// Node is a running test server.
type Node struct {
	*server.Server
	URL    string
	Minter *auth.Minter

	once sync.Once
	err  error
}

// Start starts a node; tweak adjusts its configuration first. Set
// TALKRELAY_TEST_LOG=1 to see its debug logs.
func Start(tb testing.TB, tweak ...func(*server.Config)) *Node {
	tb.Helper()
	level := slog.LevelError
	if os.Getenv("TALKRELAY_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	cfg := server.Config{
		HTTPAddr: "127.0.0.1:0", UDPListenIP: "127.0.0.1", IncludeLoopback: true,
		DataDir: tb.TempDir(), APIKey: auth.DevAPIKey, APISecret: auth.DevAPISecret,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
	}
	for _, f := range tweak {
		f(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		tb.Fatal(err)
	}
	m, err := auth.NewMinter(auth.DevAPIKey, auth.DevAPISecret)
	if err != nil {
		tb.Fatal(err)
	}
	n := &Node{Server: srv, URL: srv.URL(), Minter: m}
	// Registered before any client's cleanup, so it runs after them.
	tb.Cleanup(func() {
		if err := n.Shutdown(); err != nil {
			tb.Errorf("server shutdown: %v", err)
		}
	})
	return n
}

// Shutdown stops the node once; later calls return the first result.
func (n *Node) Shutdown() error {
	n.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n.err = n.Server.Shutdown(ctx)
	})
	return n.err
}

// Token mints a token valid for an hour.
func (n *Node) Token(tb testing.TB, room, identity string, role auth.Role) string {
	tb.Helper()
	tok, err := n.Minter.Mint(auth.Grant{Identity: identity, Name: identity + " name", Room: room, Role: role}, time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// ClientAPI returns a client API that gathers loopback UDP4 candidates only.
func ClientAPI(tb testing.TB) *webrtc.API {
	tb.Helper()
	api, err := client.NewAPI(client.APIOptions{IncludeLoopback: true, NetworkTypes: []webrtc.NetworkType{webrtc.NetworkTypeUDP4}})
	if err != nil {
		tb.Fatal(err)
	}
	return api
}

// NextEvent returns c's next event of type typ, skipping others, or fails the
// test after d.
func NextEvent(tb testing.TB, c *client.Client, typ string, d time.Duration) wire.Message {
	tb.Helper()
	timeout := time.After(d)
	for {
		select {
		case m, ok := <-c.Events():
			if !ok {
				tb.Fatalf("connection ended waiting for %s: %v", typ, c.Err())
			}
			if m.Type == typ {
				return m
			}
		case <-timeout:
			tb.Fatalf("no %s event within %v", typ, d)
		}
	}
}

// WaitFor polls cond until it holds, or fails the test after d.
func WaitFor(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
