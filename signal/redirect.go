package signal

import (
	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// redirected sends a viewer's fresh join to another node when the placement
// says so, and closes the connection. A resume stays: its session is here.
func (c *conn) redirected(g auth.Grant, m wire.Message) bool {
	if c.h.cfg.Redirect == nil || g.Role != auth.RoleViewer || m.Resume != "" {
		return false
	}
	url := c.h.cfg.Redirect(g)
	if url == "" {
		return false
	}
	c.Send(wire.Message{Type: wire.TypeRedirect, ID: m.ID, URL: url})
	c.Close(nil)
	return true
}
