package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/coder/websocket"

	"github.com/talkrelay/talkrelay/signal/wire"
)

// maxRedirects bounds how many redirects one join follows.
const maxRedirects = 4

// redirectError is a join answered with redirect.
type redirectError struct{ url string }

func (e *redirectError) Error() string { return "client: redirected to " + e.url }

// dialFollowing joins cfg.URL, following the cluster's redirects (a full node
// sends viewers to another); cfg.URL becomes the node joined, so a resume
// returns there. chatAfter, when set, continues chat after that seq.
func dialFollowing(ctx context.Context, cfg *Config, chatAfter uint64) (*websocket.Conn, []wire.Message, wire.Message, error) {
	for range maxRedirects + 1 {
		ws, early, joined, err := dialAndJoin(ctx, *cfg, "", chatAfter)
		var re *redirectError
		if !errors.As(err, &re) {
			return ws, early, joined, err
		}
		cfg.URL = re.url
	}
	return nil, nil, wire.Message{}, fmt.Errorf("client: more than %d redirects", maxRedirects)
}

// URL is the base URL of the node the client joined (after redirects), or,
// after a failover, of the node it joined then.
func (c *Client) URL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.home
}
