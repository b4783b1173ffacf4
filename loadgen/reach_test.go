package loadgen

import (
	"slices"
	"testing"

	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/client"
)

func TestForcedPaths(t *testing.T) {
	udp4 := []webrtc.NetworkType{webrtc.NetworkTypeUDP4}
	for _, tc := range []struct {
		tcp, relay bool
		path       string
		forceTCP   bool   // API: TCP candidates only
		turn       string // client: TURN transport kept
	}{
		{path: "udp"},
		{tcp: true, path: "tcp", forceTCP: true},
		{relay: true, path: "relay-udp"},
		{tcp: true, relay: true, path: "relay-tcp", turn: client.TURNOverTCP},
	} {
		c := Config{Viewers: 50, FullViewers: -1, ForceTCP: tc.tcp, ForceRelay: tc.relay}.withDefaults()
		if got := c.path(); got != tc.path {
			t.Errorf("%+v: path %q, want %q", tc, got, tc.path)
		}
		opts := c.viewerAPIOptions(true)
		if opts.ForceTCP != tc.forceTCP || !slices.Equal(opts.NetworkTypes, udp4) || !opts.IncludeLoopback {
			t.Errorf("%s: api options %+v", tc.path, opts)
		}
		var cc client.Config
		c.viewerClient(&cc)
		if cc.ForceRelay != tc.relay || cc.TURNTransport != tc.turn {
			t.Errorf("%s: client config relay %v over %q", tc.path, cc.ForceRelay, cc.TURNTransport)
		}
		wantFull := DefaultFullViewers(50)
		if tc.path != "udp" {
			wantFull = 50 // light viewers count on UDP sockets these paths skip
		}
		if c.FullViewers != wantFull {
			t.Errorf("%s: %d full viewers, want %d", tc.path, c.FullViewers, wantFull)
		}
	}
}
