package main

import (
	"flag"
	"fmt"
	"os"
)

// A node's default ports form a block around its media port: ICE-TCP 7881,
// media (UDP) 7882, the cluster relay 7884, TURN 3478 and TURN over TLS 5349.
// A node of a cluster started with another --udp-port moves every port of the
// block it leaves at its default by the same distance, so several nodes share
// one machine with only --http-addr, --udp-port and --node-id apart:
// `--udp-port 7892` gives ICE-TCP 7891, relay 7894, TURN 3488 and 5359. A
// single node (no --node-id) keeps the defaults whatever its media port.

// defaultUDPPort is the media port the default block is laid out around.
const defaultUDPPort = 7882

// defaultRelayPort is the cluster relay's port in the default block.
const defaultRelayPort = defaultUDPPort + 2

// portShift is how far a node's default ports move: the media port's
// distance from its default, for a node of a cluster with a fixed media port.
func portShift(clustered bool, udpPort int) int {
	if !clustered || udpPort == 0 {
		return 0
	}
	return udpPort - defaultUDPPort
}

// chosen reports whether the user set the flag, on the command line or
// through its environment variable.
func chosen(fs *flag.FlagSet, name, env string) bool {
	_, inEnv := os.LookupEnv(env)
	return inEnv || flagSet(fs, name)
}

// shifted is port v of flag name moved by shift, unless the user chose it or
// it is off (0).
func shifted(fs *flag.FlagSet, name, env string, v, shift int) (int, error) {
	if v == 0 || shift == 0 || chosen(fs, name, env) {
		return v, nil
	}
	p := v + shift
	if p < 1 || p > 65535 {
		return 0, fmt.Errorf("--%s: the default %d moved with --udp-port is %d, not a port; set --%s", name, v, p, name)
	}
	return p, nil
}
