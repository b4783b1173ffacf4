package server_test

import (
	"context"
	"errors"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/client/synth"
	"github.com/talkrelay/talkrelay/server"
	"github.com/talkrelay/talkrelay/server/servertest"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// env is a real talkrelay node on loopback and what tests need to talk to it.
type env struct {
	t    *testing.T
	node *servertest.Node
	url  string
	api  *webrtc.API
}

func newEnv(t *testing.T, tweak ...func(*server.Config)) *env {
	t.Helper()
	n := servertest.Start(t, tweak...)
	return &env{t: t, node: n, url: n.URL, api: servertest.ClientAPI(t)}
}

func (e *env) token(room, identity string, role auth.Role) string {
	e.t.Helper()
	return e.node.Token(e.t, room, identity, role)
}

// join connects a participant; onTrack may be nil.
func (e *env) join(room, identity string, role auth.Role, onTrack func(*webrtc.TrackRemote, *webrtc.RTPReceiver)) *client.Client {
	e.t.Helper()
	c, err := e.tryJoin(room, identity, role, onTrack)
	if err != nil {
		e.t.Fatalf("join %s as %s: %v", room, identity, err)
	}
	return c
}

// joinWith is join with the client's configuration adjusted by tweak (if not nil).
func (e *env) joinWith(room, identity string, role auth.Role, onTrack func(*webrtc.TrackRemote, *webrtc.RTPReceiver), tweak func(*client.Config)) *client.Client {
	e.t.Helper()
	c, err := e.tryJoin(room, identity, role, onTrack, tweak)
	if err != nil {
		e.t.Fatalf("join %s as %s: %v", room, identity, err)
	}
	return c
}

// tryJoin joins and returns the client (closed at cleanup) or the refusal.
func (e *env) tryJoin(room, identity string, role auth.Role, onTrack func(*webrtc.TrackRemote, *webrtc.RTPReceiver), tweak ...func(*client.Config)) (*client.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := client.Config{URL: e.url, Token: e.token(room, identity, role), Room: room, API: e.api, OnTrack: onTrack}
	for _, f := range tweak {
		if f != nil {
			f(&cfg)
		}
	}
	c, err := client.Join(ctx, cfg)
	if err == nil {
		e.t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// host is a synthetic host on camera: VP8 video and Opus audio paced in real time.
type host struct {
	c            *client.Client
	video        *synth.Video
	audio        *synth.Audio
	vt, at       *webrtc.TrackLocalStaticRTP
	cancel       context.CancelFunc
	done         chan error
	videoSent    atomic.Int64
	audioSent    atomic.Int64
	lastVideoSeq atomic.Uint32
	lastAudioSeq atomic.Uint32
}

type hostOptions struct {
	video     synth.VideoConfig
	audio     synth.AudioConfig
	ignorePLI bool                 // keyframes only on the synth's own cadence
	config    func(*client.Config) // adjusts the host's client configuration
}

// startHost joins room as a host, publishes and starts pacing media once the
// publisher connection is up (packets written before would be lost).
func (e *env) startHost(room, identity string, o hostOptions) *host {
	e.t.Helper()
	if o.video.Bitrate == 0 {
		o.video.Bitrate = 600_000
	}
	h := &host{c: e.joinWith(room, identity, auth.RoleHost, nil, o.config), video: synth.NewVideo(o.video), audio: synth.NewAudio(o.audio)}
	var err error
	h.vt, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "cam")
	if err != nil {
		e.t.Fatal(err)
	}
	h.at, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "cam")
	if err != nil {
		e.t.Fatal(err)
	}
	opts := client.PublishOptions{}
	if !o.ignorePLI {
		opts.OnKeyframeRequest = func(t webrtc.TrackLocal) {
			if t == h.vt {
				h.video.RequestKeyframe()
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := h.c.Publish(ctx, opts, h.vt, h.at); err != nil {
		e.t.Fatalf("publish: %v", err)
	}
	waitFor(e.t, 10*time.Second, "publisher connected", func() bool {
		return h.c.Publisher().ConnectionState() == webrtc.PeerConnectionStateConnected
	})
	h.run()
	e.t.Cleanup(h.stop)
	return h
}

func (h *host) run() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	writeVideo := func(p *rtp.Packet) error {
		h.videoSent.Add(1)
		h.lastVideoSeq.Store(uint32(p.SequenceNumber))
		return h.vt.WriteRTP(p)
	}
	writeAudio := func(p *rtp.Packet) error {
		h.audioSent.Add(1)
		h.lastAudioSeq.Store(uint32(p.SequenceNumber))
		return h.at.WriteRTP(p)
	}
	// Pacer: owned by the host, ends at stop.
	go func() { h.done <- synth.Pace(ctx, h.video, writeVideo, h.audio, writeAudio) }()
}

// stop ends pacing; idempotent.
func (h *host) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	if err := <-h.done; err != nil && !errors.Is(err, io.ErrClosedPipe) {
		panic(err)
	}
	h.cancel = nil
}

// packet is what a viewer saw of one RTP packet.
type packet struct {
	seq   uint16
	ts    uint32
	ssrc  uint32
	stamp synth.Stamp
	ok    bool // stamp parsed
	at    time.Time
}

// report is a sender report a viewer received, with the timestamp of the last
// packet of that SSRC received before it.
type report struct {
	ssrc     uint32
	rtp      uint32
	lastSeen uint32
	video    bool
}

// recorder collects what a viewer receives, per kind.
type recorder struct {
	mu      sync.Mutex
	video   []packet
	audio   []packet
	reports []report
}

func (r *recorder) onTrack(t *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	video := t.Kind() == webrtc.RTPCodecTypeVideo
	go r.readReports(recv, video)
	for {
		p, _, err := t.ReadRTP()
		if err != nil {
			return
		}
		rec := packet{seq: p.SequenceNumber, ts: p.Timestamp, ssrc: p.SSRC, at: time.Now()}
		r.mu.Lock()
		if video {
			rec.stamp, rec.ok = synth.ReadVideoStamp(p.Payload)
			r.video = append(r.video, rec)
		} else {
			rec.stamp, rec.ok = synth.ReadAudioStamp(p.Payload)
			r.audio = append(r.audio, rec)
		}
		r.mu.Unlock()
	}
}

func (r *recorder) readReports(recv *webrtc.RTPReceiver, video bool) {
	for {
		pkts, _, err := recv.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			sr, ok := p.(*rtcp.SenderReport)
			if !ok {
				continue
			}
			r.mu.Lock()
			seen := r.audio
			if video {
				seen = r.video
			}
			if len(seen) > 0 {
				r.reports = append(r.reports, report{ssrc: sr.SSRC, rtp: sr.RTPTime, lastSeen: seen[len(seen)-1].ts, video: video})
			}
			r.mu.Unlock()
		}
	}
}

func (r *recorder) senderReports() []report {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]report(nil), r.reports...)
}

func (r *recorder) snapshot() (video, audio []packet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]packet(nil), r.video...), append([]packet(nil), r.audio...)
}

func (r *recorder) counts() (video, audio int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.video), len(r.audio)
}

// checkContinuous fails unless pkts, put in sequence order, have consecutive
// sequence numbers with no duplicate, one SSRC, non-decreasing timestamps and
// valid stamps. Packets recovered by NACK arrive out of order and are accepted;
// it returns how many arrived out of order.
func checkContinuous(t *testing.T, who string, pkts []packet) (reordered int) {
	t.Helper()
	if len(pkts) == 0 {
		t.Fatalf("%s: no packets", who)
	}
	ordered := make([]packet, len(pkts))
	copy(ordered, pkts)
	base := pkts[0].seq
	ext := func(p packet) int64 { return int64(int16(p.seq - base)) }
	for i := 1; i < len(pkts); i++ {
		if pkts[i].seq != pkts[i-1].seq+1 {
			reordered++
		}
	}
	sort.SliceStable(ordered, func(i, j int) bool { return ext(ordered[i]) < ext(ordered[j]) })
	for i, p := range ordered {
		if !p.ok {
			t.Fatalf("%s: packet seq %d has no valid stamp", who, p.seq)
		}
		if i == 0 {
			continue
		}
		prev := ordered[i-1]
		if p.seq != prev.seq+1 {
			t.Fatalf("%s: sequence %d -> %d: lost or duplicated packets", who, prev.seq, p.seq)
		}
		if p.ssrc != prev.ssrc {
			t.Fatalf("%s: ssrc changed %d -> %d at seq %d", who, prev.ssrc, p.ssrc, p.seq)
		}
		if int32(p.ts-prev.ts) < 0 {
			t.Fatalf("%s: timestamp goes back %d -> %d at seq %d", who, prev.ts, p.ts, p.seq)
		}
	}
	return reordered
}

// missing counts the sequence numbers absent between the lowest and highest received.
func missing(pkts []packet) int {
	if len(pkts) == 0 {
		return 0
	}
	base := pkts[0].seq
	seen := map[int64]bool{}
	lo, hi := int64(0), int64(0)
	for _, p := range pkts {
		e := int64(int16(p.seq - base))
		seen[e] = true
		lo, hi = min(lo, e), max(hi, e)
	}
	return int(hi-lo+1) - len(seen)
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	servertest.WaitFor(t, d, what, cond)
}

// nextEvent returns the next event of type typ from c, skipping others.
func nextEvent(t *testing.T, c *client.Client, typ string, d time.Duration) wire.Message {
	t.Helper()
	return servertest.NextEvent(t, c, typ, d)
}

// waitLiveOn returns once c sees the live on: in its joined state (a viewer
// who joined a running live) or in a live_started event.
func waitLiveOn(t *testing.T, c *client.Client, d time.Duration) {
	t.Helper()
	if l := c.Joined().Live; l != nil && l.State == wire.LiveOn {
		return
	}
	servertest.NextEvent(t, c, wire.TypeLiveStarted, d)
}

// joinErr tries to join and returns the client or the error.
func joinErr(e *env, room, identity string, role auth.Role) (*client.Client, error) {
	return e.tryJoin(room, identity, role, nil)
}

func asWireError(err error, we **wire.Error) bool { return errors.As(err, we) }
