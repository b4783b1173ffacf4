package cluster

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// relayALPN names the relay protocol in the TLS handshake.
const relayALPN = "talkrelay-relay/1"

// ErrPeerNotInCluster: the other side of a relay connection does not hold the
// cluster secret.
var ErrPeerNotInCluster = errors.New("cluster: peer certificate is not the cluster's")

// MinSecretLen is the shortest cluster secret accepted.
const MinSecretLen = 16

// clusterTLS derives one Ed25519 key from the cluster secret and a
// self-signed certificate for it. Every node derives the same key, presents the
// certificate and accepts exactly that public key from its peer, on both
// sides: mutual authentication by possession of the secret, like a pre-shared
// key, with no CA to run.
func clusterTLS(secret string) (server, client *tls.Config, err error) {
	if len(secret) < MinSecretLen {
		return nil, nil, fmt.Errorf("cluster: the cluster secret must have at least %d bytes", MinSecretLen)
	}
	seed, err := hkdf.Key(sha256.New, []byte(secret), []byte("talkrelay cluster"), "relay identity", ed25519.SeedSize)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: derive key: %w", err)
	}
	key := ed25519.NewKeyFromSeed(seed)
	pub := key.Public().(ed25519.PublicKey)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "talkrelay-cluster"},
		DNSNames:     []string{"talkrelay-cluster"},
		NotBefore:    time.Unix(0, 0),
		NotAfter:     time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, pub, key)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: certificate: %w", err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	verify := func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return ErrPeerNotInCluster
		}
		c, err := x509.ParseCertificate(raw[0])
		if err != nil {
			return fmt.Errorf("%w: %w", ErrPeerNotInCluster, err)
		}
		got, ok := c.PublicKey.(ed25519.PublicKey)
		if !ok || !bytes.Equal(got, pub) {
			return ErrPeerNotInCluster
		}
		return nil
	}
	server = &tls.Config{
		MinVersion:            tls.VersionTLS13,
		Certificates:          []tls.Certificate{cert},
		ClientAuth:            tls.RequireAnyClientCert, // checked by verify
		VerifyPeerCertificate: verify,
		NextProtos:            []string{relayALPN},
	}
	client = &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		// The chain is checked by verify (the one key), not against roots.
		InsecureSkipVerify:    true, //nolint:gosec // verify pins the cluster key
		VerifyPeerCertificate: verify,
		ServerName:            "talkrelay-cluster",
		NextProtos:            []string{relayALPN},
	}
	return server, client, nil
}
