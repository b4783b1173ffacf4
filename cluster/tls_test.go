package cluster

import (
	"crypto/tls"
	"net"
	"testing"
)

// Nodes with the same secret complete the mutual TLS handshake; a node with
// another secret is refused, in both directions.
func TestClusterTLS(t *testing.T) {
	handshake := func(serverSecret, clientSecret string) error {
		srv, _, err := clusterTLS(serverSecret)
		if err != nil {
			t.Fatal(err)
		}
		_, cli, err := clusterTLS(clientSecret)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		b, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		a, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		errc := make(chan error, 1)
		go func() { errc <- tls.Server(a, srv).Handshake() }()
		cerr := tls.Client(b, cli).Handshake()
		if cerr != nil {
			a.Close()
			<-errc
			return cerr
		}
		return <-errc
	}
	if err := handshake("the same secret 0123", "the same secret 0123"); err != nil {
		t.Fatalf("same secret: %v", err)
	}
	if err := handshake("the same secret 0123", "another secret 45678"); err == nil {
		t.Fatal("a node with another secret was accepted")
	}
	if _, _, err := clusterTLS("short"); err == nil {
		t.Fatal("a short secret was accepted")
	}
}
