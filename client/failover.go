package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/coder/websocket"

	"github.com/talkrelay/talkrelay/signal/wire"
)

// Failover: a node of a cluster tells its clients which other nodes they may
// join (joined.nodes, then nodes when the set changes). When a Resume
// client's WebSocket drops and its node does not answer, so its session
// cannot be resumed, the client joins one of those nodes instead with the
// same token: a fresh session, its chat continuing after the last message
// received. The nodes are tried in random order, so the clients of a dead
// node spread over them; each round of attempts backs off, and the resume
// deadline (Config.ReconnectTimeout) bounds them all.

// failoverDialTimeout bounds one attempt at the client's own node when other
// nodes could take it: a node that does not answer that soon is taken for
// gone, and the others are tried. Alone, the node gets resumeDialTimeout.
const failoverDialTimeout = 3 * time.Second

// Nodes returns the other nodes of the cluster this client may fail over to,
// as the server last told it (nil on a single node).
func (c *Client) Nodes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.nodes)
}

// setNodes records the server's latest list of other nodes.
func (c *Client) setNodes(nodes []string) {
	c.mu.Lock()
	c.nodes = slices.Clone(nodes)
	c.mu.Unlock()
}

// alternates returns the other nodes known, in random order, without the
// node the client is on.
func (c *Client) alternates() []string {
	c.mu.Lock()
	out := make([]string, 0, len(c.nodes))
	for _, u := range c.nodes {
		if u != c.home {
			out = append(out, u)
		}
	}
	c.mu.Unlock()
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// joinedNode is a successful join: the connection, what came with the reply,
// and the node's base URL.
type joinedNode struct {
	ws    *websocket.Conn
	early []wire.Message
	reply wire.Message
	url   string
}

// failover joins the first of nodes that takes the client, following its
// redirects, each attempt within failoverDialTimeout and all before
// deadline. A refusal other than a full or departing node is final: the same
// token would be refused anywhere.
func (c *Client) failover(nodes []string, deadline time.Time) (joinedNode, error) {
	var last error
	for _, u := range nodes {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		cfg := c.cfg
		cfg.URL = u
		ctx, cancel := context.WithTimeout(c.ctx, min(left, failoverDialTimeout))
		ws, early, reply, err := dialFollowing(ctx, &cfg, c.chat.lastSeq())
		cancel()
		if err == nil {
			c.log.Info("node unreachable: joined another", "url", cfg.URL)
			return joinedNode{ws: ws, early: early, reply: reply, url: cfg.URL}, nil
		}
		if c.ctx.Err() != nil {
			return joinedNode{}, ErrClosed
		}
		if finalRefusal(err) {
			return joinedNode{}, err
		}
		last = err
	}
	if last == nil {
		last = errors.New("client: no other node to join")
	}
	return joinedNode{}, fmt.Errorf("client: fail over: %w", last)
}

// finalRefusal reports a refusal another node would repeat (a bad token, a
// ban), unlike a full node or one going away.
func finalRefusal(err error) bool {
	var we *wire.Error
	return errors.As(err, &we) && we.Code != wire.CodeServerFull && we.Code != wire.CodeUnavailable
}
