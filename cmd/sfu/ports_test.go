package main

import (
	"flag"
	"io"
	"testing"

	"github.com/talkrelay/talkrelay/server"
)

// A cluster node's defaults let several nodes share one machine: the relay
// and reach ports follow --udp-port, dev mode brings a dev cluster secret and
// keeps the relay on loopback, production demands a secret.
func TestClusterDefaults(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		ctx     clusterFlagContext
		want    server.ClusterConfig
		wantErr bool
	}{
		{"single node", []string{"--relay-children", "2"}, clusterFlagContext{natsURL: "nats://127.0.0.1:4222", udpPort: 7882}, server.ClusterConfig{}, false},
		{"dev, second node", []string{"--node-id", "b"}, clusterFlagContext{natsURL: "nats://127.0.0.1:4222", udpPort: 7892, dev: true},
			server.ClusterConfig{NodeID: "b", RelayAddr: "127.0.0.1:7894", Secret: devClusterSecret}, false},
		{"dev, relay asked beyond loopback", []string{"--node-id", "b", "--relay-addr", "0.0.0.0:7000"}, clusterFlagContext{natsURL: "n", udpPort: 7882, dev: true}, server.ClusterConfig{}, true},
		{"dev public keeps the relay address", []string{"--node-id", "b", "--relay-addr", "0.0.0.0:7000"}, clusterFlagContext{natsURL: "n", udpPort: 7882, dev: true, devPublic: true},
			server.ClusterConfig{NodeID: "b", RelayAddr: "0.0.0.0:7000", Secret: devClusterSecret}, false},
		{"production needs a secret", []string{"--node-id", "a"}, clusterFlagContext{natsURL: "n", udpPort: 7882}, server.ClusterConfig{}, true},
		{"production, short secret", []string{"--node-id", "a", "--cluster-secret", "short"}, clusterFlagContext{natsURL: "n", udpPort: 7882}, server.ClusterConfig{}, true},
		{"production defaults", []string{"--node-id", "a", "--cluster-secret", "0123456789abcdef"}, clusterFlagContext{natsURL: "n", udpPort: 7882},
			server.ClusterConfig{NodeID: "a", RelayAddr: ":7884", Secret: "0123456789abcdef"}, false},
		{"media port picked at random", []string{"--node-id", "a", "--cluster-secret", "0123456789abcdef"}, clusterFlagContext{natsURL: "n"},
			server.ClusterConfig{NodeID: "a", RelayAddr: ":0", Secret: "0123456789abcdef"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("sfu", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			read := clusterFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			got, err := read(tc.ctx)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v; want error %v", err, tc.wantErr)
			}
			if err == nil && got != tc.want {
				t.Fatalf("got %+v; want %+v", got, tc.want)
			}
		})
	}
}

func TestReachPortsFollowMediaPort(t *testing.T) {
	parse := func(args ...string) func(int) (reachConfig, error) {
		fs := flag.NewFlagSet("sfu", flag.ContinueOnError)
		read := reachFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return read
	}
	rc, err := parse()(portShift(true, 7892))
	if err != nil {
		t.Fatal(err)
	}
	if rc.TCPPort != 7891 || rc.TURN.UDPPort != 3488 || rc.TURN.TCPPort != 3488 {
		t.Fatalf("ports %d, %d, %d; want 7891, 3488, 3488", rc.TCPPort, rc.TURN.UDPPort, rc.TURN.TCPPort)
	}
	// Chosen ports stay; a single node keeps every default.
	rc, err = parse("--tcp-port", "9000")(portShift(true, 7892))
	if err != nil || rc.TCPPort != 9000 || rc.TURN.UDPPort != 3488 {
		t.Fatalf("with --tcp-port 9000: %+v, %v", rc, err)
	}
	rc, err = parse()(portShift(false, 7892))
	if err != nil || rc.TCPPort != 7881 || rc.TURN.UDPPort != 3478 {
		t.Fatalf("single node: %+v, %v", rc, err)
	}
	if _, err := parse()(portShift(true, 1000)); err == nil {
		t.Fatal("TURN moved below port 1 was accepted")
	}
}
