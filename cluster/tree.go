package cluster

// Parent returns the node this node pulls room's live from and its depth in
// the relay tree (1: straight from the origin); ok is false when it pulls
// none.
func (n *Node) Parent(room string) (parent string, depth int, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.pulls[room]
	if p == nil {
		return "", 0, false
	}
	return p.parent, p.depth, true
}
