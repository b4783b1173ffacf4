package room

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/media"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// publisher is the host's peer connection: the client offers, the server answers.
type publisher struct {
	p  *Participant
	pc *webrtc.PeerConnection

	mu       sync.Mutex
	answered bool                      // the answer went out: candidates may follow it
	early    []webrtc.ICECandidateInit // our candidates gathered before the answer was sent

	// onState, when set, hears the connection's state: a WHIP session has no
	// signaling connection to tell it ended (whep.go).
	onState atomic.Pointer[func(webrtc.PeerConnectionState)]
}

func newPublisher(p *Participant) (*publisher, error) {
	pc, err := p.room.m.cfg.Engine.NewPublisherPC()
	if err != nil {
		return nil, err
	}
	pub := &publisher{p: p, pc: pc}
	// A candidate must not reach the client before the answer it belongs to.
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		pub.mu.Lock()
		defer pub.mu.Unlock()
		if !pub.answered {
			pub.early = append(pub.early, c.ToJSON())
			return
		}
		p.peer.Send(candidateMessage(wire.TargetPublisher, c.ToJSON()))
	})
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if fn := pub.onState.Load(); fn != nil {
			(*fn)(st)
		}
	})
	pc.OnTrack(func(t *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		kind := kindAudio
		if t.Kind() == webrtc.RTPCodecTypeVideo {
			kind = kindVideo
		}
		ssrc := uint32(t.SSRC())
		up := media.Upstream{RequestKeyframe: func() {
			_ = pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
		}}
		if kind == kindVideo && p.room.kind == kindCallRoom {
			// In a call the one receiver's downlink bounds what the sender should send.
			up.Estimate = func(bps float32) {
				_ = pc.WriteRTCP([]rtcp.Packet{&rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: bps, SSRCs: []uint32{ssrc}}})
			}
		}
		if kind == kindAudio && p.room.kind == kindGroupRoom {
			up.AudioLevelID = media.AudioLevelID(recv) // the speaker selection's input
		}
		var rids []string
		if t.RID() != "" {
			rids = pub.layerRIDs(recv)
		}
		p.room.publish(p, kind, t, recv, up, rids)
	})
	return pub, nil
}

// layerRIDs returns the simulcast RIDs of recv's media section, lowest first.
func (pub *publisher) layerRIDs(recv *webrtc.RTPReceiver) []string {
	desc := pub.pc.RemoteDescription()
	if desc == nil {
		return nil
	}
	for _, tr := range pub.pc.GetTransceivers() {
		if tr.Receiver() == recv {
			return simulcastRIDs(desc.SDP, tr.Mid())
		}
	}
	return nil
}

// offer applies the host's offer and sends the answer (echoing id), then any
// candidates gathered meanwhile.
func (pub *publisher) offer(id, sdp string) error {
	pub.mu.Lock()
	defer pub.mu.Unlock()
	err := pub.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp})
	if err != nil {
		return wire.Errorf(wire.CodeBadSDP, "offer rejected: %v", trimErr(err))
	}
	answer, err := pub.pc.CreateAnswer(nil)
	if err == nil {
		err = pub.pc.SetLocalDescription(answer)
	}
	if err != nil {
		return wire.Errorf(wire.CodeBadSDP, "cannot answer offer: %v", trimErr(err))
	}
	pub.p.peer.Send(wire.Message{Type: wire.TypeAnswer, ID: id, SDP: answer.SDP})
	pub.answered = true
	for _, c := range pub.early {
		pub.p.peer.Send(candidateMessage(wire.TargetPublisher, c))
	}
	pub.early = nil
	return nil
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
