package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/client/synth"
	"github.com/talkrelay/talkrelay/media"
)

// viewer is one simulated watcher: full (a decrypting pion peer) or light
// (pion for signaling, ICE and DTLS only; RTP counted under it, see tapConn).
type viewer struct {
	id       int
	identity string
	full     bool
	rx       *receiver
	chat     *chatPeer // nil for viewers without a part in chat

	mu          sync.Mutex // guards the fields below, written by the viewer's goroutine
	c           *client.Client
	mux         *ice.UDPMuxDefault // light viewers' own mux (and socket)
	joinStart   time.Time
	joinedAt    time.Time
	connectedAt time.Time
	err         error
}

// viewerEnv is what every viewer shares with the run.
type viewerEnv struct {
	url, room string
	token     func(identity string) (string, error)
	fullAPI   *webrtc.API          // one API for all full viewers; light ones need their own
	reach     func(*client.Config) // forces the relay path (Config.ForceRelay)
	plan      netPlan
	connected *atomic.Int64 // viewers whose media connection is up
	joinTO    time.Duration
	noGRO     bool // light viewers read datagram by datagram (Config.NoViewerGRO)
}

// run is the viewer's whole life, on the goroutine the run gave it: join
// (bounded by joinCtx and the join timeout), wait for the media connection
// (until connectCtx ends), then watch until life ends and close everything.
// joined and connected are marked done as each stage resolves, whatever
// the outcome, so the run can sequence its phases.
func (v *viewer) run(env *viewerEnv, joinCtx, connectCtx, life context.Context, joined, connected *sync.WaitGroup) {
	var chatting sync.WaitGroup
	defer chatting.Wait() // after close, which ends the chat goroutine
	defer v.close()
	err := v.join(joinCtx, env)
	joined.Done()
	if err == nil && v.chat != nil {
		chatting.Go(func() { v.chat.run(v.c, life.Done()) })
	}
	if err == nil {
		err = v.awaitConnected(connectCtx, env)
	}
	connected.Done()
	if err != nil {
		v.setErr(err)
		return
	}
	defer env.connected.Add(-1)
	select {
	case <-life.Done():
	case <-v.c.Done():
		v.setErr(fmt.Errorf("connection ended: %w", v.c.Err()))
	}
}

func (v *viewer) join(ctx context.Context, env *viewerEnv) error {
	tok, err := env.token(v.identity)
	if err != nil {
		return err
	}
	api := env.fullAPI
	if !v.full {
		if api, err = v.lightAPI(env.plan, env.noGRO); err != nil {
			return err
		}
	}
	cfg := client.Config{URL: env.url, Token: tok, Room: env.room, API: api}
	if env.reach != nil {
		env.reach(&cfg)
	}
	if v.full {
		cfg.OnTrack = func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { v.rx.readTrack(t) }
	}
	ctx, cancel := context.WithTimeout(ctx, env.joinTO)
	defer cancel()
	start := time.Now()
	c, err := client.Join(ctx, cfg)
	end := time.Now()
	v.mu.Lock()
	defer v.mu.Unlock()
	v.joinStart = start
	if err != nil {
		return fmt.Errorf("join: %w", err)
	}
	v.c, v.joinedAt = c, end
	return nil
}

// lightAPI opens the light viewer's socket behind a tap and builds the pion
// API around it: one socket and mux per viewer, because every viewer talks
// to the same SFU address and a shared socket could not tell their media
// apart.
func (v *viewer) lightAPI(plan netPlan, noGRO bool) (*webrtc.API, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: plan.localIP})
	if err != nil {
		return nil, fmt.Errorf("light viewer socket: %w", err)
	}
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: newTapConn(conn, v.rx.onRawRTP, !noGRO)})
	v.mu.Lock()
	v.mux = mux
	v.mu.Unlock()
	api, err := client.NewAPI(client.APIOptions{
		UDPMux: mux, DisableNACK: true, IncludeLoopback: plan.loopback,
		NetworkTypes: []webrtc.NetworkType{webrtc.NetworkTypeUDP4},
	})
	if err != nil {
		return nil, fmt.Errorf("light viewer api: %w", err)
	}
	return api, nil
}

// awaitConnected waits for the subscriber connection the SFU offers once
// the live runs, then for its DTLS (and so ICE) to be up. Light viewers
// start counting from that moment.
func (v *viewer) awaitConnected(ctx context.Context, env *viewerEnv) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var pc *webrtc.PeerConnection
	for pc == nil {
		select {
		case <-ctx.Done():
			return errors.New("no subscriber offer from the SFU before the connect timeout")
		case <-v.c.Done():
			return fmt.Errorf("connection ended before media: %w", v.c.Err())
		case <-tick.C:
			pc = v.c.Subscriber()
		}
	}
	up := make(chan struct{})
	var once sync.Once
	dtls := pc.SCTP().Transport()
	// Handlers run under the transport's lock: only signal here.
	dtls.OnStateChange(func(s webrtc.DTLSTransportState) {
		if s == webrtc.DTLSTransportStateConnected {
			once.Do(func() { close(up) })
		}
	})
	if dtls.State() == webrtc.DTLSTransportStateConnected {
		once.Do(func() { close(up) })
	}
	select {
	case <-up:
	case <-ctx.Done():
		return fmt.Errorf("media connection not up before the connect timeout (state %s)", pc.ConnectionState())
	case <-v.c.Done():
		return fmt.Errorf("connection ended before media: %w", v.c.Err())
	}
	v.rx.open.Store(true)
	env.connected.Add(1)
	v.mu.Lock()
	v.connectedAt = time.Now()
	v.mu.Unlock()
	return nil
}

func (v *viewer) setErr(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.err == nil {
		v.err = err
	}
}

// close ends the client, then the light viewer's mux, which closes its
// socket and so its reader goroutine.
func (v *viewer) close() {
	v.mu.Lock()
	c, mux := v.c, v.mux
	v.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
	if mux != nil {
		_ = mux.Close()
	}
}

// live reports whether the viewer's media connection is up now.
func (v *viewer) live() bool {
	v.mu.Lock()
	c, up := v.c, !v.connectedAt.IsZero()
	v.mu.Unlock()
	if c == nil || !up {
		return false
	}
	pc := c.Subscriber()
	return pc != nil && pc.ConnectionState() == webrtc.PeerConnectionStateConnected
}

// readTrack is a full viewer's OnTrack: it reads and inspects every packet
// until the track ends (pion's goroutine, ended by closing the connection).
func (r *receiver) readTrack(t *webrtc.TrackRemote) {
	video := t.Kind() == webrtc.RTPCodecTypeVideo
	buf := make([]byte, 1500)
	var p rtp.Packet
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			return
		}
		at := time.Now()
		if err := p.Unmarshal(buf[:n]); err != nil {
			continue
		}
		info := packetInfo{ssrc: p.SSRC, seq: p.SequenceNumber, ts: p.Timestamp, video: video, at: at}
		var s synth.Stamp
		var ok bool
		if video {
			s, ok = synth.ReadVideoStamp(p.Payload)
		} else {
			s, ok = synth.ReadAudioStamp(p.Payload)
		}
		if ok {
			info.key, info.sentAt = s.Keyframe, s.SentAt
		}
		r.onPacket(info)
	}
}

// onRawRTP is a light viewer's tap: the clear RTP header of an SRTP packet.
// Audio is told from video by the SFU's Opus payload type.
func (r *receiver) onRawRTP(b []byte, at time.Time) {
	if !r.open.Load() {
		return
	}
	h := parseRTPHeader(b)
	r.onPacket(packetInfo{ssrc: h.ssrc, seq: h.seq, ts: h.ts, video: h.pt != media.PayloadTypeOpus, at: at})
}
