package loadgen

import (
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/client"
)

// viewerAPIOptions shapes the full viewers' pion API: UDP only by default,
// TCP only with ForceTCP. With ForceRelay it keeps UDP, which relay
// candidates need even when the TURN server is reached over TCP.
func (c Config) viewerAPIOptions(loopback bool) client.APIOptions {
	opts := client.APIOptions{IncludeLoopback: loopback, NetworkTypes: []webrtc.NetworkType{webrtc.NetworkTypeUDP4}}
	if c.ForceTCP && !c.ForceRelay {
		opts.ForceTCP = true
	}
	return opts
}

// viewerClient applies ForceRelay to a viewer's client configuration: all
// media through the TURN server joined hands out, over TCP with ForceTCP.
func (c Config) viewerClient(cfg *client.Config) {
	if !c.ForceRelay {
		return
	}
	cfg.ForceRelay = true
	if c.ForceTCP {
		cfg.TURNTransport = client.TURNOverTCP
	}
}

// path names how viewers reach the SFU, for the report.
func (c Config) path() string {
	switch {
	case c.ForceRelay && c.ForceTCP:
		return "relay-tcp"
	case c.ForceRelay:
		return "relay-udp"
	case c.ForceTCP:
		return "tcp"
	}
	return "udp"
}
