package main

import (
	"errors"
	"flag"
	"time"

	"github.com/talkrelay/talkrelay/server"
)

// reachConfig is how clients reach the node's media beyond the UDP port.
type reachConfig struct {
	Interfaces []string
	TCPPort    int
	TURN       server.TURNConfig
}

// reachFlags registers the flags that decide how clients reach media (ICE
// over TCP, the embedded TURN server, which interfaces); the returned
// function reads them after parsing, moving ports left at their defaults by
// shift (ports.go). The defaults suit a single cloud VM: ICE-TCP on 7881,
// TURN on 3478 (UDP and TCP), TURN over TLS on 5349 once a certificate is
// given.
func reachFlags(fs *flag.FlagSet) func(shift int) (reachConfig, error) {
	ifaces := fs.String("interfaces", envOr("TALKRELAY_INTERFACES", ""), "network interfaces whose addresses media and TURN use, comma-separated; empty: all [TALKRELAY_INTERFACES]")
	tcpPort := fs.Int("tcp-port", envInt("TALKRELAY_TCP_PORT", 7881), "TCP port for ICE over TCP, for clients whose UDP is blocked; 0: off [TALKRELAY_TCP_PORT]")
	turnOn := fs.Bool("turn", envOr("TALKRELAY_TURN", "true") == "true", "run the embedded TURN server [TALKRELAY_TURN]")
	udp := fs.Int("turn-udp-port", envInt("TALKRELAY_TURN_UDP_PORT", 3478), "TURN over UDP port; 0: off [TALKRELAY_TURN_UDP_PORT]")
	tcp := fs.Int("turn-tcp-port", envInt("TALKRELAY_TURN_TCP_PORT", 3478), "TURN over TCP port; 0: off [TALKRELAY_TURN_TCP_PORT]")
	tlsPort := fs.Int("turn-tls-port", envInt("TALKRELAY_TURN_TLS_PORT", 5349), "TURN over TLS port, on when --turn-cert and --turn-key are set (443 gets through networks that open only that); 0: off [TALKRELAY_TURN_TLS_PORT]")
	cert := fs.String("turn-cert", envOr("TALKRELAY_TURN_CERT", ""), "PEM certificate file of TURN over TLS, valid for --turn-domain [TALKRELAY_TURN_CERT]")
	key := fs.String("turn-key", envOr("TALKRELAY_TURN_KEY", ""), "PEM key file of TURN over TLS [TALKRELAY_TURN_KEY]")
	domain := fs.String("turn-domain", envOr("TALKRELAY_TURN_DOMAIN", ""), "host name the TURN URLs carry (TLS needs the certificate's); default the node's public address [TALKRELAY_TURN_DOMAIN]")
	realm := fs.String("turn-realm", envOr("TALKRELAY_TURN_REALM", "talkrelay"), "TURN realm [TALKRELAY_TURN_REALM]")
	ttl := fs.Duration("turn-credential-ttl", envDuration("TALKRELAY_TURN_CREDENTIAL_TTL", 6*time.Hour), "how long the TURN credentials handed to a participant admit new relays [TALKRELAY_TURN_CREDENTIAL_TTL]")
	quota := fs.Int("turn-quota", envInt("TALKRELAY_TURN_QUOTA", 10), "TURN relays one identity may hold at once [TALKRELAY_TURN_QUOTA]")
	return func(shift int) (reachConfig, error) {
		type port struct {
			v         *int
			name, env string
		}
		ports := []port{{tcpPort, "tcp-port", "TALKRELAY_TCP_PORT"}}
		if *turnOn {
			ports = append(ports,
				port{udp, "turn-udp-port", "TALKRELAY_TURN_UDP_PORT"},
				port{tcp, "turn-tcp-port", "TALKRELAY_TURN_TCP_PORT"},
				port{tlsPort, "turn-tls-port", "TALKRELAY_TURN_TLS_PORT"})
		}
		for _, p := range ports {
			v, err := shifted(fs, p.name, p.env, max(*p.v, 0), shift)
			if err != nil {
				return reachConfig{}, err
			}
			*p.v = v
		}
		rc := reachConfig{Interfaces: splitList(*ifaces), TCPPort: *tcpPort}
		if !*turnOn {
			return rc, nil
		}
		if (*cert == "") != (*key == "") {
			return rc, errors.New("--turn-cert and --turn-key go together")
		}
		if *cert == "" {
			*tlsPort = 0
		}
		rc.TURN = server.TURNConfig{
			UDPPort: max(*udp, 0), TCPPort: max(*tcp, 0), TLSPort: max(*tlsPort, 0),
			CertFile: *cert, KeyFile: *key, Domain: *domain, Realm: *realm,
			CredentialTTL: *ttl, MaxAllocationsPerUser: *quota,
		}
		return rc, nil
	}
}
