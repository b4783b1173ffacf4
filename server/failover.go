package server

import "github.com/talkrelay/talkrelay/signal/wire"

// The cluster's side of clients and hosts surviving a node's death: the
// nodes a client may fail over to (joined.nodes), and the live a host who
// reconnects here after its node died continues.

// clusterNodes is room.Config.Nodes: nil on a single node.
func (s *Server) clusterNodes() []string {
	if n := s.cluster.Load(); n != nil {
		return n.Alternates()
	}
	return nil
}

// continueLive is room.Config.ContinueLive: nil on a single node.
func (s *Server) continueLive(room, host string) *wire.Live {
	if n := s.cluster.Load(); n != nil {
		return n.ContinueLive(room, host)
	}
	return nil
}
