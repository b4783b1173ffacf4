package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/server"
)

// With allowed origins configured, a page from another origin cannot open the
// signaling socket; an allowed one and a native client (no Origin) can.
func TestAllowedOrigins(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.AllowedOrigins = []string{"app.example.com"} })
	dial := func(origin string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		c, err := client.Join(ctx, client.Config{URL: e.url, Token: e.token("o", "v", auth.RoleViewer), API: e.api,
			Dialer: &websocket.DialOptions{HTTPHeader: h}})
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := dial("https://evil.example.net"); err == nil {
		t.Error("a page from another origin opened the socket")
	}
	if err := dial("https://app.example.com"); err != nil {
		t.Errorf("the allowed origin was refused: %v", err)
	}
	if err := dial(""); err != nil {
		t.Errorf("a native client was refused: %v", err)
	}
}
