package client

import (
	"errors"
	"fmt"
	"sync"

	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/signal/wire"
)

// maxQueuedCandidates bounds the remote candidates held for a connection that
// has no remote description yet; a server never needs more than a handful.
const maxQueuedCandidates = 64

// peer is one of a participant's two peer connections together with the
// trickle-ICE bookkeeping the protocol needs in both directions:
//   - remote candidates that arrive before the remote description are held
//     and added once it is set;
//   - local candidates gathered before our offer or answer has been queued
//     are held and sent right after it, so the server never sees a candidate
//     for a session it does not know yet.
//
// Remote-side calls come from the reader goroutine only; attach may come from
// Publish, and local candidates from pion's goroutines.
type peer struct {
	c      *Client
	target wire.Target

	mu          sync.Mutex
	pc          *webrtc.PeerConnection
	closed      bool
	remoteSet   bool
	remoteQueue []webrtc.ICECandidateInit
	signaled    bool
	localQueue  []webrtc.ICECandidateInit
}

func newPeer(c *Client, target wire.Target) *peer {
	return &peer{c: c, target: target}
}

// configuration is the pion configuration for both connections: the ICE
// servers the SFU handed out in joined.
func (p *peer) configuration() webrtc.Configuration { return p.c.rtcConfiguration() }

// open creates the peer connection and makes it this peer's. It fails with
// ErrClosed once the client ended, so no connection outlives Close.
func (p *peer) open() (*webrtc.PeerConnection, error) {
	pc, err := p.c.api.NewPeerConnection(p.configuration())
	if err != nil {
		return nil, fmt.Errorf("client: new %s peer connection: %w", p.target, err)
	}
	log := p.c.log.With("pc", string(p.target))
	pc.OnICECandidate(func(ic *webrtc.ICECandidate) { p.onLocalCandidate(pc, ic) })
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		log.Debug("connection state", "state", s.String())
		p.c.watchPeer(p, s)
	})

	p.mu.Lock()
	if p.closed || p.pc != nil {
		closed := p.closed
		p.mu.Unlock()
		_ = pc.Close()
		if closed {
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("client: %s peer connection already exists", p.target)
	}
	p.pc = pc
	p.mu.Unlock()
	return pc, nil
}

// conn returns the peer connection, nil if none yet.
func (p *peer) conn() *webrtc.PeerConnection {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pc
}

// reset closes and forgets the connection after a failed negotiation so that
// a later attempt starts clean.
func (p *peer) reset() {
	p.mu.Lock()
	pc := p.pc
	p.pc = nil
	p.remoteSet, p.signaled = false, false
	p.remoteQueue, p.localQueue = nil, nil
	p.mu.Unlock()
	if pc != nil {
		_ = pc.Close()
	}
}

// close closes the connection for good.
func (p *peer) close() error {
	p.mu.Lock()
	pc := p.pc
	p.closed = true
	p.mu.Unlock()
	if pc == nil {
		return nil
	}
	if err := pc.Close(); err != nil {
		return fmt.Errorf("client: close %s peer connection: %w", p.target, err)
	}
	return nil
}

// setRemote applies a remote description, then the candidates that waited
// for it.
func (p *peer) setRemote(desc webrtc.SessionDescription) error {
	pc := p.conn()
	if pc == nil {
		return fmt.Errorf("client: %s %s without a peer connection", p.target, desc.Type)
	}
	if err := pc.SetRemoteDescription(desc); err != nil {
		return fmt.Errorf("client: set %s remote %s: %w", p.target, desc.Type, err)
	}
	p.mu.Lock()
	p.remoteSet = true
	queued := p.remoteQueue
	p.remoteQueue = nil
	p.mu.Unlock()
	for _, c := range queued {
		p.add(pc, c)
	}
	return nil
}

// setRemoteAnswer applies the server's answer to our publisher offer.
func (p *peer) setRemoteAnswer(sdp string) error {
	return p.setRemote(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp})
}

// addRemoteCandidate adds a trickled server candidate, or holds it until the
// remote description is set.
func (p *peer) addRemoteCandidate(wc wire.Candidate) {
	init := webrtc.ICECandidateInit{
		Candidate:        wc.Candidate,
		SDPMid:           wc.SDPMid,
		SDPMLineIndex:    wc.SDPMLineIndex,
		UsernameFragment: wc.UsernameFragment,
	}
	p.mu.Lock()
	if p.pc == nil || !p.remoteSet {
		if len(p.remoteQueue) >= maxQueuedCandidates {
			p.mu.Unlock()
			p.c.log.Warn("too many early candidates; dropping", "pc", string(p.target))
			return
		}
		p.remoteQueue = append(p.remoteQueue, init)
		p.mu.Unlock()
		return
	}
	pc := p.pc
	p.mu.Unlock()
	p.add(pc, init)
}

func (p *peer) add(pc *webrtc.PeerConnection, init webrtc.ICECandidateInit) {
	if err := pc.AddICECandidate(init); err != nil && !errors.Is(err, webrtc.ErrConnectionClosed) {
		p.c.log.Warn("add candidate", "pc", string(p.target), "candidate", init.Candidate, "err", err)
	}
}

// onLocalCandidate trickles a gathered candidate to the server, or holds it
// until our description went out.
func (p *peer) onLocalCandidate(pc *webrtc.PeerConnection, ic *webrtc.ICECandidate) {
	if ic == nil {
		return // gathering complete; the protocol has no end-of-candidates
	}
	init := ic.ToJSON()
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.pc != pc:
		return // from a connection reset after a failed negotiation
	case !p.signaled:
		p.localQueue = append(p.localQueue, init)
	default:
		p.sendCandidate(init)
	}
}

// markSignaled records that our offer or answer is queued for the server and
// releases the candidates gathered meanwhile, in order.
func (p *peer) markSignaled() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.signaled {
		return
	}
	p.signaled = true
	for _, init := range p.localQueue {
		p.sendCandidate(init)
	}
	p.localQueue = nil
}

// holdCandidates holds local candidates again until markSignaled: an ICE
// restart gathers new ones, which must not reach the server before the
// description with their credentials.
func (p *peer) holdCandidates() {
	p.mu.Lock()
	p.signaled = false
	p.mu.Unlock()
}

// sendCandidate queues one local candidate; called with p.mu held so that
// candidates keep their gathering order.
func (p *peer) sendCandidate(init webrtc.ICECandidateInit) {
	p.c.sendAsync(wire.Message{
		Type:   wire.TypeCandidate,
		Target: p.target,
		Candidate: &wire.Candidate{
			Candidate:        init.Candidate,
			SDPMid:           init.SDPMid,
			SDPMLineIndex:    init.SDPMLineIndex,
			UsernameFragment: init.UsernameFragment,
		},
	})
}
