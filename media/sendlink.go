package media

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/pion/dtls/v3/pkg/crypto/prf"
	"github.com/pion/dtls/v3/pkg/protocol/extension"
	"github.com/pion/dtls/v3/pkg/protocol/handshake"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// sendLink lets the down tracks of one subscriber connection encrypt and
// write their SRTP straight to the media socket. Through pion every packet
// also passes the SRTP session's lock, the DTLS mux, the ICE connection and
// the UDP mux: about a fifth of the SFU's CPU at a few hundred viewers.
//
// pion does not expose the SRTP keys, so the link derives them as pion does
// (RFC 5764's exporter), from what the DTLS handshake shows it: the master
// secret and client random through the key log, the server random and the
// SRTP profile through the Server Hello. That works when the SFU is the DTLS
// server (its answering role, and what browsers pick when the SFU offers);
// otherwise, and until the keys and a UDP path are known, tracks write
// through pion as before.
type sendLink struct {
	engine *Engine

	mu           sync.Mutex // guards the handshake's values below
	clientRandom []byte
	serverRandom []byte
	master       []byte
	suite        uint16
	profile      srtp.ProtectionProfile

	keys atomic.Pointer[srtpKeys]
	dest atomic.Pointer[linkDest]
}

// srtpKeys is the SFU's (the DTLS server's) SRTP master key and salt.
type srtpKeys struct {
	key, salt []byte
	profile   srtp.ProtectionProfile
}

// linkDest is where the viewer's media goes: the selected candidate pair's
// remote address, through the media socket of its local one.
type linkDest struct {
	conn *BatchConn
	addr netip.AddrPort
}

// srtpExporterLabel is RFC 5764's key exporter label.
const srtpExporterLabel = "EXTRACTOR-dtls_srtp"

// Write takes pion's DTLS key log: "CLIENT_RANDOM <client random> <master secret>".
func (l *sendLink) Write(p []byte) (int, error) {
	fields := bytes.Fields(p)
	if len(fields) != 3 || string(fields[0]) != "CLIENT_RANDOM" {
		return len(p), nil
	}
	cr, err1 := hex.DecodeString(string(fields[1]))
	ms, err2 := hex.DecodeString(string(fields[2]))
	if err1 != nil || err2 != nil {
		return len(p), nil
	}
	l.mu.Lock()
	l.clientRandom, l.master = cr, ms
	l.mu.Unlock()
	return len(p), nil
}

// serverHello notes the SFU's random, cipher suite and SRTP profile as the
// DTLS server sends them; the message goes out unchanged.
func (l *sendLink) serverHello(m handshake.MessageServerHello) handshake.Message {
	r := m.Random.MarshalFixed()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.serverRandom = r[:]
	if m.CipherSuiteID != nil {
		l.suite = *m.CipherSuiteID
	}
	for _, ext := range m.Extensions {
		if u, ok := ext.(*extension.UseSRTP); ok && len(u.ProtectionProfiles) == 1 {
			l.profile = srtp.ProtectionProfile(u.ProtectionProfiles[0])
		}
	}
	return &m
}

// watch follows pc's DTLS state and selected candidate pair; closed runs
// when the DTLS transport closes or fails.
func (l *sendLink) watch(pc *webrtc.PeerConnection, closed func()) {
	dt := pc.SCTP().Transport()
	ice := dt.ICETransport()
	ice.OnSelectedCandidatePairChange(l.selectPair)
	dt.OnStateChange(func(s webrtc.DTLSTransportState) {
		switch s {
		case webrtc.DTLSTransportStateConnected:
			l.derive()
			if pair, err := ice.GetSelectedCandidatePair(); err == nil && pair != nil {
				l.selectPair(pair)
			}
		case webrtc.DTLSTransportStateClosed, webrtc.DTLSTransportStateFailed:
			l.dest.Store(nil)
			closed()
		}
	})
}

// derive computes the SFU's SRTP keys once the handshake is done, if it saw
// all it needs as the DTLS server.
func (l *sendLink) derive() {
	l.mu.Lock()
	cr, sr, ms, suite, profile := l.clientRandom, l.serverRandom, l.master, l.suite, l.profile
	// The master secret is needed once: it is not kept past this.
	l.clientRandom, l.serverRandom, l.master = nil, nil, nil
	l.mu.Unlock()
	defer clear(ms)
	if cr == nil || sr == nil || ms == nil || profile == 0 {
		return // the SFU was the DTLS client, or the handshake hid something
	}
	keyLen, err := profile.KeyLen()
	if err != nil {
		return
	}
	saltLen, err := profile.SaltLen()
	if err != nil {
		return
	}
	hash := prf.HashFunc(sha256.New)
	if suite == 0xc02c || suite == 0xc030 { // the *_AES_256_GCM_SHA384 suites
		hash = sha512.New384
	}
	seed := make([]byte, 0, len(srtpExporterLabel)+len(cr)+len(sr))
	seed = append(append(append(seed, srtpExporterLabel...), cr...), sr...)
	km, err := prf.PHash(ms, seed, 2*(keyLen+saltLen), hash)
	if err != nil {
		return
	}
	// client key | server key | client salt | server salt: the SFU writes
	// with the server's.
	l.keys.Store(&srtpKeys{
		key:     km[keyLen : 2*keyLen],
		salt:    km[2*keyLen+saltLen:],
		profile: profile,
	})
}

// selectPair points the link at a newly selected pair, or back at pion when
// the pair is not UDP through one of the engine's media sockets.
func (l *sendLink) selectPair(pair *webrtc.ICECandidatePair) {
	if pair == nil || pair.Local == nil || pair.Remote == nil || pair.Local.Protocol != webrtc.ICEProtocolUDP ||
		pair.Local.Typ == webrtc.ICECandidateTypeRelay {
		l.dest.Store(nil)
		return
	}
	remote, err := netip.ParseAddr(pair.Remote.Address)
	conn := l.engine.connFor(pair.Local.Address)
	if err != nil || conn == nil {
		l.dest.Store(nil)
		return
	}
	l.dest.Store(&linkDest{conn: conn, addr: netip.AddrPortFrom(remote.Unmap(), pair.Remote.Port)})
}

// connFor is the media socket a local candidate's address belongs to.
func (e *Engine) connFor(local string) *BatchConn {
	a, err := netip.ParseAddr(local)
	if err != nil {
		return nil
	}
	a = a.Unmap()
	var found *BatchConn
	for i, m := range e.addrs {
		if (m.Local == a || m.Public == a) && i < len(e.conns) {
			if found != nil {
				return nil // one public address for several sockets: pion knows which
			}
			found = e.conns[i]
		}
	}
	return found
}

// NewDirectDownTrack returns a down track of f on the direct path with the
// given SRTP master key and salt (the SFU's side), sending through conn to
// addr: the path Engine.NewDownTrack sets up after a DTLS handshake, for
// benchmarks and tools that have no handshake. Bind it as any down track.
func NewDirectDownTrack(f *Feed, key, salt []byte, profile srtp.ProtectionProfile, conn *BatchConn, addr netip.AddrPort) *DownTrack {
	l := &sendLink{}
	l.keys.Store(&srtpKeys{key: key, salt: salt, profile: profile})
	l.dest.Store(&linkDest{conn: conn, addr: addr})
	d := NewDownTrack(f, nil)
	d.link = l
	return d
}
