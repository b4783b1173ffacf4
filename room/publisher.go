package room

import (
	"strings"
	"sync"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/signal/wire"
)

// publisher is the host's peer connection: the client offers, the server answers.
type publisher struct {
	p  *Participant
	pc *webrtc.PeerConnection

	mu sync.Mutex
}

func newPublisher(p *Participant) (*publisher, error) {
	pc, err := p.room.m.cfg.Engine.NewPublisherPC()
	if err != nil {
		return nil, err
	}
	pub := &publisher{p: p, pc: pc}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil {
			p.peer.Send(candidateMessage(wire.TargetPublisher, c.ToJSON()))
		}
	})
	pc.OnTrack(func(t *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		kind := kindAudio
		if t.Kind() == webrtc.RTPCodecTypeVideo {
			kind = kindVideo
		}
		ssrc := uint32(t.SSRC())
		pli := func() {
			_ = pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
		}
		p.room.publish(p, kind, t, recv, pli)
	})
	return pub, nil
}

func (pub *publisher) offer(sdp string) (string, error) {
	pub.mu.Lock()
	defer pub.mu.Unlock()
	err := pub.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp})
	if err != nil {
		return "", wire.Errorf(wire.CodeBadSDP, "offer rejected: %v", trimErr(err))
	}
	answer, err := pub.pc.CreateAnswer(nil)
	if err == nil {
		err = pub.pc.SetLocalDescription(answer)
	}
	if err != nil {
		return "", wire.Errorf(wire.CodeBadSDP, "cannot answer offer: %v", trimErr(err))
	}
	return answer.SDP, nil
}

func (pub *publisher) addCandidate(c webrtc.ICECandidateInit) error {
	pub.mu.Lock()
	defer pub.mu.Unlock()
	if err := pub.pc.AddICECandidate(c); err != nil {
		return wire.Errorf(wire.CodeBadCandidate, "candidate rejected: %v", trimErr(err))
	}
	return nil
}

func (pub *publisher) close() {
	_ = pub.pc.Close()
}

// trimErr keeps pion's messages short enough to send to clients.
func trimErr(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
