package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/signal/wire"
)

// fakeSFU is the smallest signaling endpoint the SDK can be tested against:
// the real protocol over a real WebSocket, backed by real pion peer
// connections (pion's default codecs and interceptors, not the SDK's), so
// ICE, DTLS and SRTP run for real over loopback.
//
// Tokens pick the outcome of join: "bad" is refused, anything else joins with
// the token as role ("host" or "viewer").
type fakeSFU struct {
	api      *webrtc.API
	srv      *httptest.Server
	sessions chan *fakeSession

	mu   sync.Mutex
	errs []error // reported by the test's cleanup; goroutines must not use t
}

func newFakeSFU(t *testing.T) *fakeSFU {
	t.Helper()
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})

	f := &fakeSFU{
		api:      webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)),
		sessions: make(chan *fakeSession, 8),
	}
	t.Cleanup(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, err := range f.errs {
			t.Error("fake SFU:", err)
		}
	})
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", f.serveWS)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSFU) fail(format string, args ...any) {
	f.mu.Lock()
	f.errs = append(f.errs, fmt.Errorf(format, args...))
	f.mu.Unlock()
}

// session waits for the next participant that joined.
func (f *fakeSFU) session(t *testing.T) *fakeSession {
	t.Helper()
	select {
	case s := <-f.sessions:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("no session joined")
		return nil
	}
}

// fakeSession is one participant's connection as the fake server sees it.
type fakeSession struct {
	f    *fakeSFU
	ws   *websocket.Conn
	role string

	pubTracks chan *webrtc.TrackRemote // tracks the host published
	answers   chan string              // subscriber answers from the client
	got       chan wire.Message        // requests the fake has no handler for

	mu  sync.Mutex
	pub *webrtc.PeerConnection
	sub *webrtc.PeerConnection
}

func (f *fakeSFU) serveWS(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		f.fail("accept: %v", err)
		return
	}
	ws.SetReadLimit(wire.MaxMessageBytes)
	s := &fakeSession{
		f: f, ws: ws,
		pubTracks: make(chan *webrtc.TrackRemote, 4),
		answers:   make(chan string, 4),
		got:       make(chan wire.Message, 64),
	}
	defer s.closePCs()
	ctx := context.Background()

	join, err := s.read(ctx)
	if err != nil || join.Type != wire.TypeJoin {
		f.fail("first message %+v, %v", join, err)
		_ = ws.CloseNow()
		return
	}
	if join.Token == "bad" {
		werr := wire.Errorf(wire.CodeUnauthorized, "bad token")
		werr.Fatal = true
		s.send(wire.Message{Type: wire.TypeError, Error: werr})
		_ = ws.Close(websocket.StatusPolicyViolation, "unauthorized")
		return
	}
	s.role = join.Token
	s.send(wire.Message{Type: wire.TypeJoined, Joined: &wire.Joined{
		Room: "room1", Identity: s.role + "-id", Role: s.role, ParticipantID: "p-" + s.role,
	}})
	f.sessions <- s

	for {
		m, err := s.read(ctx)
		if err != nil {
			return
		}
		if !s.handle(m) {
			return
		}
	}
}

func (s *fakeSession) read(ctx context.Context) (wire.Message, error) {
	_, b, err := s.ws.Read(ctx)
	if err != nil {
		return wire.Message{}, err
	}
	return wire.Decode(b)
}

// send writes one message; coder/websocket serialises concurrent writers.
func (s *fakeSession) send(m wire.Message) {
	b, err := json.Marshal(m)
	if err != nil {
		s.f.fail("marshal: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.ws.Write(ctx, websocket.MessageText, b) // fails only when the client is gone
}

// handle acts on one client message; false ends the session.
func (s *fakeSession) handle(m wire.Message) bool {
	switch m.Type {
	case wire.TypeOffer:
		if s.role != "host" {
			s.send(wire.Message{Type: wire.TypeError, ID: m.ID, Error: wire.Errorf(wire.CodeForbidden, "viewers cannot publish")})
			return true
		}
		s.answerPublisher(m)
	case wire.TypeAnswer:
		s.mu.Lock()
		sub := s.sub
		s.mu.Unlock()
		if err := sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP}); err != nil {
			s.f.fail("subscriber answer: %v", err)
		}
		s.answers <- m.SDP
	case wire.TypeCandidate:
		s.mu.Lock()
		pc := s.pub
		if m.Target == wire.TargetSubscriber {
			pc = s.sub
		}
		s.mu.Unlock()
		c := m.Candidate
		if pc == nil || c == nil {
			// As the real server: a trickled candidate can race a refused offer.
			s.send(wire.Message{Type: wire.TypeError, Error: wire.Errorf(wire.CodeNoSession, "no %s session", m.Target)})
			return true
		}
		err := pc.AddICECandidate(webrtc.ICECandidateInit{
			Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment,
		})
		if err != nil {
			s.f.fail("add %s candidate: %v", m.Target, err)
		}
	case wire.TypeMute:
		s.send(wire.Message{Type: wire.TypeTrackMuted, Kind: m.Kind, Muted: m.Muted})
	case wire.TypePing:
		s.send(wire.Message{Type: wire.TypePong, ID: m.ID})
	case wire.TypeLeave:
		_ = s.ws.Close(websocket.StatusNormalClosure, "left")
		return false
	default:
		s.got <- m
	}
	return true
}

// gatherer collects a connection's local candidates until gathering ends.
type gatherer struct {
	mu    sync.Mutex
	cands []webrtc.ICECandidateInit
	once  sync.Once // pion repeats the nil candidate on each later SetLocalDescription
	done  chan struct{}
}

func gatherOn(pc *webrtc.PeerConnection) *gatherer {
	g := &gatherer{done: make(chan struct{})}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			g.once.Do(func() { close(g.done) })
			return
		}
		g.mu.Lock()
		g.cands = append(g.cands, c.ToJSON())
		g.mu.Unlock()
	})
	return g
}

// sendAll waits for gathering to end and trickles every candidate.
func (g *gatherer) sendAll(s *fakeSession, target wire.Target) {
	select {
	case <-g.done:
	case <-time.After(5 * time.Second):
		s.f.fail("%s gathering did not complete", target)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.cands {
		s.send(wire.Message{Type: wire.TypeCandidate, Target: target, Candidate: &wire.Candidate{
			Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment,
		}})
	}
}

// answerPublisher answers the host's offer and then trickles candidates.
func (s *fakeSession) answerPublisher(m wire.Message) {
	pc, err := s.f.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		s.f.fail("publisher pc: %v", err)
		return
	}
	s.mu.Lock()
	s.pub = pc
	s.mu.Unlock()
	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { s.pubTracks <- t })
	g := gatherOn(pc)
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP}); err != nil {
		s.f.fail("publisher offer: %v", err)
		return
	}
	answer, err := pc.CreateAnswer(nil)
	if err == nil {
		err = pc.SetLocalDescription(answer)
	}
	if err != nil {
		s.f.fail("publisher answer: %v", err)
		return
	}
	s.send(wire.Message{Type: wire.TypeAnswer, ID: m.ID, SDP: answer.SDP})
	g.sendAll(s, wire.TargetPublisher)
}

// offerSubscriber adds tracks to the subscriber connection and offers it. On
// the first offer all candidates go out before the offer, to exercise the
// client's queue of early candidates.
func (s *fakeSession) offerSubscriber(tracks ...webrtc.TrackLocal) error {
	s.mu.Lock()
	pc := s.sub
	s.mu.Unlock()
	var g *gatherer
	if pc == nil {
		var err error
		if pc, err = s.f.api.NewPeerConnection(webrtc.Configuration{}); err != nil {
			return err
		}
		s.mu.Lock()
		s.sub = pc
		s.mu.Unlock()
		g = gatherOn(pc)
	}
	for _, t := range tracks {
		tr, err := pc.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			return err
		}
		go func() {
			for {
				if _, _, err := tr.Sender().ReadRTCP(); err != nil {
					return
				}
			}
		}()
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		return err
	}
	if g != nil {
		g.sendAll(s, wire.TargetSubscriber)
	}
	s.send(wire.Message{Type: wire.TypeOffer, SDP: offer.SDP})
	return nil
}

func (s *fakeSession) closePCs() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, pc := range []*webrtc.PeerConnection{s.pub, s.sub} {
		if pc != nil {
			_ = pc.Close()
		}
	}
}
