package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"strconv"

	"github.com/talkrelay/talkrelay/cluster"
	"github.com/talkrelay/talkrelay/server"
)

// devClusterSecret is the cluster secret of dev mode, well known like the dev
// API credentials: a dev node's relay listens on loopback only.
const devClusterSecret = "talkrelay-dev-cluster-secret-not-for-production-use"

// clusterFlags registers the cluster's flags; the returned function reads
// them after parsing. They matter only with --nats and --node-id.
func clusterFlags(fs *flag.FlagSet) func(clusterFlagContext) (server.ClusterConfig, error) {
	nodeID := fs.String("node-id", envOr("TALKRELAY_NODE_ID", ""), "this node's id in a cluster; with --nats, joins the cluster [TALKRELAY_NODE_ID]")
	relay := fs.String("relay-addr", envOr("TALKRELAY_RELAY_ADDR", ""), "UDP address of the QUIC media relay between nodes; default port --udp-port + 2 (7884), on loopback in dev mode [TALKRELAY_RELAY_ADDR]")
	advertise := fs.String("relay-advertise", envOr("TALKRELAY_RELAY_ADVERTISE", ""), "relay host:port other nodes dial; default --relay-addr, with the node's first non-loopback address for an unspecified host [TALKRELAY_RELAY_ADVERTISE]")
	publicURL := fs.String("public-url", envOr("TALKRELAY_PUBLIC_URL", ""), "this node's base URL for clients, sent in redirects; default the HTTP address [TALKRELAY_PUBLIC_URL]")
	secret := fs.String("cluster-secret", envOr("TALKRELAY_CLUSTER_SECRET", ""), "key shared by the cluster's nodes (at least 16 bytes); authenticates the relay (mutual TLS); required but in dev mode [TALKRELAY_CLUSTER_SECRET]")
	children := fs.Int("relay-children", envInt("TALKRELAY_RELAY_CHILDREN", 0), "nodes that may pull one room from this node before edges pull from edges; 0: no bound [TALKRELAY_RELAY_CHILDREN]")
	redirectAt := fs.Int("redirect-at", envInt("TALKRELAY_REDIRECT_AT", 0), "viewers on this node beyond which joining viewers are redirected to the least loaded node; 0: --max-viewers [TALKRELAY_REDIRECT_AT]")
	return func(c clusterFlagContext) (server.ClusterConfig, error) {
		cc := server.ClusterConfig{
			NodeID: *nodeID, RelayAddr: *relay, RelayAdvertise: *advertise, PublicURL: *publicURL,
			Secret: *secret, MaxRelayChildren: *children, RedirectAt: *redirectAt,
		}
		if cc.NodeID == "" || c.natsURL == "" {
			return server.ClusterConfig{}, nil // a single node
		}
		if cc.RelayAddr == "" {
			port := 0 // a media port picked at random: so is the relay's
			if c.udpPort != 0 {
				port = c.udpPort + defaultRelayPort - defaultUDPPort
			}
			cc.RelayAddr = net.JoinHostPort("", strconv.Itoa(port))
		}
		if c.dev && !c.devPublic {
			addr, err := devListenAddr("relay-addr", cc.RelayAddr, chosen(fs, "relay-addr", "TALKRELAY_RELAY_ADDR"))
			if err != nil {
				return cc, err
			}
			cc.RelayAddr = addr
		}
		if cc.Secret == "" {
			if !c.dev {
				return cc, errors.New("a node of a cluster needs --cluster-secret, the same on every node")
			}
			cc.Secret = devClusterSecret
		}
		if len(cc.Secret) < cluster.MinSecretLen {
			return cc, fmt.Errorf("--cluster-secret must have at least %d bytes", cluster.MinSecretLen)
		}
		return cc, nil
	}
}

// clusterFlagContext is what the cluster's defaults depend on besides its
// own flags.
type clusterFlagContext struct {
	natsURL        string
	udpPort        int
	dev, devPublic bool
}
