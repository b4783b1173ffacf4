package client_test

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/client/synth"
	"github.com/talkrelay/talkrelay/server"
	"github.com/talkrelay/talkrelay/server/servertest"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// testTimeout bounds every wait; generous, since machines (and -race) are noisy.
const testTimeout = 10 * time.Second

// sfu is a real talkrelay node on loopback, one per test, and what the tests
// need to reach it: its URL, a token minter and a client API that gathers
// loopback candidates.
type sfu struct {
	t      *testing.T
	srv    *servertest.Node
	url    string
	minter *auth.Minter
	api    *webrtc.API
}

func newSFU(t *testing.T, tweak ...func(*server.Config)) *sfu {
	t.Helper()
	n := servertest.Start(t, tweak...)
	return &sfu{t: t, srv: n, url: n.URL, minter: n.Minter, api: servertest.ClientAPI(t)}
}

// shutdown stops the server once; later calls return the first result.
func (s *sfu) shutdown() error { return s.srv.Shutdown() }

func (s *sfu) token(room, identity string, role auth.Role) string {
	s.t.Helper()
	return s.tokenTTL(room, identity, role, time.Hour)
}

func (s *sfu) tokenTTL(room, identity string, role auth.Role, ttl time.Duration) string {
	s.t.Helper()
	tok, err := s.minter.Mint(auth.Grant{Identity: identity, Name: identity + " name", Room: room, Role: role}, ttl)
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

// config is the client configuration for identity in room with role.
func (s *sfu) config(room, identity string, role auth.Role) client.Config {
	s.t.Helper()
	return client.Config{URL: s.url, Token: s.token(room, identity, role), Room: room, API: s.api}
}

// join connects a participant (onTrack may be nil) and closes it at cleanup.
func (s *sfu) join(room, identity string, role auth.Role, onTrack func(*webrtc.TrackRemote, *webrtc.RTPReceiver)) *client.Client {
	s.t.Helper()
	cfg := s.config(room, identity, role)
	cfg.OnTrack = onTrack
	return s.joinWith(cfg)
}

func (s *sfu) joinWith(cfg client.Config) *client.Client {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := client.Join(ctx, cfg)
	if err != nil {
		s.t.Fatalf("join: %v", err)
	}
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

// publication is a host's published camera: synthetic VP8 and Opus paced in
// real time, each source started on its own so tests control when the SFU
// sees each track.
type publication struct {
	t         *testing.T
	senders   []*webrtc.RTPSender
	vt, at    *webrtc.TrackLocalStaticRTP
	video     *synth.Video
	audio     *synth.Audio
	keyframes chan webrtc.TrackLocal // every OnKeyframeRequest, in order

	mu      sync.Mutex
	cancels []context.CancelFunc
	wg      sync.WaitGroup
}

// publish publishes VP8 video and Opus audio on host and waits for the
// publisher connection to be up (packets written earlier would be lost).
// Keyframe requests are recorded and honoured by the video source.
func publish(t *testing.T, host *client.Client) *publication {
	t.Helper()
	p, err := tryPublish(t, host)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	return p
}

// tryPublish is publish returning Publish's error instead of failing.
func tryPublish(t *testing.T, host *client.Client) (*publication, error) {
	t.Helper()
	p := &publication{
		t:         t,
		video:     synth.NewVideo(synth.VideoConfig{Bitrate: 300_000}),
		audio:     synth.NewAudio(synth.AudioConfig{}),
		keyframes: make(chan webrtc.TrackLocal, 256),
	}
	var err error
	p.vt, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "cam")
	if err != nil {
		t.Fatal(err)
	}
	p.at, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "cam")
	if err != nil {
		t.Fatal(err)
	}
	opts := client.PublishOptions{OnKeyframeRequest: func(tr webrtc.TrackLocal) {
		if tr == p.vt {
			p.video.RequestKeyframe()
		}
		select {
		case p.keyframes <- tr:
		default:
		}
	}}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	p.senders, err = host.Publish(ctx, opts, p.vt, p.at)
	if err != nil {
		return nil, err
	}
	waitFor(t, "publisher connected", func() bool {
		return host.Publisher().ConnectionState() == webrtc.PeerConnectionStateConnected
	})
	t.Cleanup(p.stop)
	return p, nil
}

// startVideo and startAudio start pacing one source until stop.
func (p *publication) startVideo() { p.pace(p.video, p.vt.WriteRTP, nil, nil) }
func (p *publication) startAudio() { p.pace(nil, nil, p.audio, p.at.WriteRTP) }

func (p *publication) pace(v *synth.Video, wv func(*rtp.Packet) error, a *synth.Audio, wa func(*rtp.Packet) error) {
	ctx, cancel := context.WithCancel(context.Background())
	p.mu.Lock()
	p.cancels = append(p.cancels, cancel)
	p.mu.Unlock()
	p.wg.Add(1)
	// Pacer: owned by the publication, ends at stop.
	go func() {
		defer p.wg.Done()
		// A write fails once the SFU closed the publisher (after end_live);
		// a failure before then shows as media that never arrives.
		if err := synth.Pace(ctx, v, wv, a, wa); err != nil && !errors.Is(err, io.ErrClosedPipe) {
			p.t.Logf("pacing stopped: %v", err)
		}
	}()
}

// stop ends all pacing and waits for it; idempotent.
func (p *publication) stop() {
	p.mu.Lock()
	cancels := p.cancels
	p.cancels = nil
	p.mu.Unlock()
	for _, c := range cancels {
		c()
	}
	p.wg.Wait()
}

// receiver records what a viewer's OnTrack is handed: the tracks, and per
// kind how many packets carried a valid synth stamp (proof that the host's
// media, not something else, came through the SFU).
type receiver struct {
	mu      sync.Mutex
	tracks  map[string]*webrtc.TrackRemote // by kind
	packets map[string]int
	bad     map[string]int
}

func newReceiver() *receiver {
	return &receiver{tracks: map[string]*webrtc.TrackRemote{}, packets: map[string]int{}, bad: map[string]int{}}
}

func (r *receiver) onTrack(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	kind := t.Kind().String()
	r.mu.Lock()
	r.tracks[kind] = t
	r.mu.Unlock()
	for {
		p, _, err := t.ReadRTP()
		if err != nil {
			return
		}
		var ok bool
		if t.Kind() == webrtc.RTPCodecTypeVideo {
			_, ok = synth.ReadVideoStamp(p.Payload)
		} else {
			_, ok = synth.ReadAudioStamp(p.Payload)
		}
		r.mu.Lock()
		if ok {
			r.packets[kind]++
		} else {
			r.bad[kind]++
		}
		r.mu.Unlock()
	}
}

func (r *receiver) track(kind string) *webrtc.TrackRemote {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tracks[kind]
}

func (r *receiver) count(kind string) (good, bad int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.packets[kind], r.bad[kind]
}

// waitPackets waits until r has n stamped packets of kind.
func (r *receiver) waitPackets(t *testing.T, kind string, n int) {
	t.Helper()
	waitFor(t, "viewer to receive "+kind, func() bool {
		good, _ := r.count(kind)
		return good >= n
	})
	if _, bad := r.count(kind); bad > 0 {
		t.Fatalf("%d %s packets without a valid stamp", bad, kind)
	}
}

// waitFor polls cond until it holds or testTimeout passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	servertest.WaitFor(t, testTimeout, what, cond)
}

// recv takes one value from ch within testTimeout.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(testTimeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// nextEvent returns c's next event of type typ, skipping events of other
// types (the real server interleaves viewer counts, live state and so on).
func nextEvent(t *testing.T, c *client.Client, typ string) wire.Message {
	t.Helper()
	return servertest.NextEvent(t, c, typ, testTimeout)
}

// waitCount reads c's events until a viewer_count of want arrives.
func waitCount(t *testing.T, c *client.Client, want int) {
	t.Helper()
	timeout := time.After(testTimeout)
	last := -1
	for {
		select {
		case m, ok := <-c.Events():
			if !ok {
				t.Fatalf("events closed waiting for viewer count %d; Err = %v", want, c.Err())
			}
			if m.Type == wire.TypeViewerCount {
				if m.Count == nil {
					t.Fatalf("viewer_count without a count: %+v", m)
				}
				if last = *m.Count; last == want {
					return
				}
			}
		case <-timeout:
			t.Fatalf("viewer count never reached %d (last %d)", want, last)
		}
	}
}

// drain reads c's events until the channel closes (it does once the
// connection ended) and returns them.
func drain(t *testing.T, c *client.Client) []wire.Message {
	t.Helper()
	var got []wire.Message
	timeout := time.After(testTimeout)
	for {
		select {
		case m, ok := <-c.Events():
			if !ok {
				return got
			}
			got = append(got, m)
		case <-timeout:
			t.Fatalf("events not closed within %v", testTimeout)
		}
	}
}

// hasEvent reports whether evs holds an event of type typ satisfying ok.
func hasEvent(evs []wire.Message, typ string, ok func(wire.Message) bool) bool {
	for _, m := range evs {
		if m.Type == typ && (ok == nil || ok(m)) {
			return true
		}
	}
	return false
}
