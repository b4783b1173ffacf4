package main

import (
	"flag"

	"github.com/talkrelay/talkrelay/server"
)

// clusterFlags registers the cluster's flags; the returned function reads
// them after parsing. They matter only with --nats.
func clusterFlags(fs *flag.FlagSet) func() server.ClusterConfig {
	nodeID := fs.String("node-id", envOr("TALKRELAY_NODE_ID", ""), "this node's id in a cluster; with --nats and --relay-addr, joins the cluster [TALKRELAY_NODE_ID]")
	relay := fs.String("relay-addr", envOr("TALKRELAY_RELAY_ADDR", ":7884"), "UDP address of the QUIC media relay between nodes [TALKRELAY_RELAY_ADDR]")
	advertise := fs.String("relay-advertise", envOr("TALKRELAY_RELAY_ADVERTISE", ""), "relay host:port other nodes dial; default --relay-addr [TALKRELAY_RELAY_ADVERTISE]")
	publicURL := fs.String("public-url", envOr("TALKRELAY_PUBLIC_URL", ""), "this node's base URL for clients, sent in redirects; default the HTTP address [TALKRELAY_PUBLIC_URL]")
	secret := fs.String("cluster-secret", envOr("TALKRELAY_CLUSTER_SECRET", ""), "key shared by the cluster's nodes; authenticates the relay (mutual TLS) [TALKRELAY_CLUSTER_SECRET]")
	children := fs.Int("relay-children", envInt("TALKRELAY_RELAY_CHILDREN", 0), "nodes that may pull one room from this node before edges pull from edges; 0: no bound [TALKRELAY_RELAY_CHILDREN]")
	redirectAt := fs.Int("redirect-at", envInt("TALKRELAY_REDIRECT_AT", 0), "viewers on this node beyond which joining viewers are redirected to the least loaded node; 0: --max-viewers [TALKRELAY_REDIRECT_AT]")
	return func() server.ClusterConfig {
		return server.ClusterConfig{
			NodeID: *nodeID, RelayAddr: *relay, RelayAdvertise: *advertise, PublicURL: *publicURL,
			Secret: *secret, MaxRelayChildren: *children, RedirectAt: *redirectAt,
		}
	}
}
