package cluster

import (
	"github.com/talkrelay/talkrelay/auth"
)

// Redirect returns the URL of the node a viewer should join instead of this
// one, or "" to join here: when this node has MaxViewers viewers, the least
// loaded node with capacity left (preferring one that already serves the
// room's live) takes the viewer.
func (n *Node) Redirect(g auth.Grant, localViewers int) string {
	if g.Role != auth.RoleViewer || n.cfg.MaxViewers <= 0 || localViewers < n.cfg.MaxViewers {
		return ""
	}
	var best NodeInfo
	bestLoad := 2.0
	for _, c := range n.reg.all() {
		if c.ID == n.cfg.NodeID || c.URL == "" {
			continue
		}
		load := 0.0
		if c.MaxViewers > 0 {
			if c.Viewers >= c.MaxViewers {
				continue
			}
			load = float64(c.Viewers) / float64(c.MaxViewers)
		}
		if _, serving := c.Serving[g.Room]; serving {
			load -= 0.01 // already pulls the live: no new relay copy
		}
		if load < bestLoad {
			best, bestLoad = c, load
		}
	}
	return best.URL
}
