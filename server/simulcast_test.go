package server_test

import (
	"context"

	"errors"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/client/synth"
	"github.com/talkrelay/talkrelay/media/codec"
	"github.com/talkrelay/talkrelay/netsim"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// simulcastLayers are the host's layers, lowest first: RID, size, bitrate.
var simulcastLayers = []struct {
	rid           string
	width, height int
	bitrate       int
}{
	{"q", 320, 180, 150_000},
	{"h", 640, 360, 500_000},
	{"f", 1280, 720, 1_500_000},
}

// simHost publishes Opus audio and VP8 video in three simulcast layers.
type simHost struct {
	c      *client.Client
	tracks []*webrtc.TrackLocalStaticRTP
	videos []*synth.Video
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (e *env) startSimulcastHost(room string) *simHost {
	e.t.Helper()
	h := &simHost{c: e.join(room, "host", auth.RoleHost, nil)}
	layers := make([]webrtc.TrackLocal, 0, len(simulcastLayers))
	for _, l := range simulcastLayers {
		t, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "cam", webrtc.WithRTPStreamID(l.rid))
		if err != nil {
			e.t.Fatal(err)
		}
		h.tracks = append(h.tracks, t)
		h.videos = append(h.videos, synth.NewVideo(synth.VideoConfig{Bitrate: l.bitrate, Width: l.width, Height: l.height}))
		layers = append(layers, t)
	}
	at, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "cam")
	if err != nil {
		e.t.Fatal(err)
	}
	opts := client.PublishOptions{OnKeyframeRequest: func(t webrtc.TrackLocal) {
		for i, lt := range h.tracks {
			if lt == t {
				h.videos[i].RequestKeyframe()
			}
		}
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	senders, err := h.c.PublishSimulcast(ctx, opts, layers, at)
	if err != nil {
		e.t.Fatalf("publish simulcast: %v", err)
	}
	// Browsers mark each layer's packets with the MID and RID header
	// extensions, by which the SFU tells the layers apart; pion's track does
	// not, so the pacer does.
	var midID, ridID uint8
	for _, x := range senders[0].GetParameters().HeaderExtensions {
		switch x.URI {
		case sdp.SDESMidURI:
			midID = uint8(x.ID)
		case sdp.SDESRTPStreamIDURI:
			ridID = uint8(x.ID)
		}
	}
	var mid string
	for _, tr := range h.c.Publisher().GetTransceivers() {
		if tr.Sender() == senders[0] {
			mid = tr.Mid()
		}
	}
	if midID == 0 || ridID == 0 || mid == "" {
		e.t.Fatalf("simulcast extensions not negotiated (mid %d, rid %d, %q)", midID, ridID, mid)
	}
	waitFor(e.t, 10*time.Second, "publisher connected", func() bool {
		return h.c.Publisher().ConnectionState() == webrtc.PeerConnectionStateConnected
	})
	pctx, stop := context.WithCancel(context.Background())
	h.cancel = stop
	run := func(v *synth.Video, wv func(*rtp.Packet) error, a *synth.Audio, wa func(*rtp.Packet) error) {
		h.wg.Add(1)
		// Pacer: owned by the host, ends at stop.
		go func() {
			defer h.wg.Done()
			if err := synth.Pace(pctx, v, wv, a, wa); err != nil && !errors.Is(err, io.ErrClosedPipe) {
				e.t.Errorf("pacing: %v", err)
			}
		}()
	}
	for i, v := range h.videos {
		track, rid := h.tracks[i], simulcastLayers[i].rid
		run(v, func(p *rtp.Packet) error {
			if err := p.Header.SetExtension(midID, []byte(mid)); err != nil {
				return err
			}
			if err := p.Header.SetExtension(ridID, []byte(rid)); err != nil {
				return err
			}
			return track.WriteRTP(p)
		}, nil, nil)
	}
	run(nil, nil, synth.NewAudio(synth.AudioConfig{}), at.WriteRTP)
	e.t.Cleanup(h.stop)
	return h
}

func (h *simHost) stop() {
	if h.cancel != nil {
		h.cancel()
		h.wg.Wait()
		h.cancel = nil
	}
}

// layerWatcher is a viewer that notes the size of each keyframe it receives:
// the layer it is on.
type layerWatcher struct {
	c          *client.Client
	link       *netsim.Link
	lastWidth  atomic.Int32
	videoPkts  atomic.Int64
	mu         sync.Mutex
	videoSeqs  []uint16
	switchedAt []time.Time
}

func (w *layerWatcher) onTrack(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	for {
		p, _, err := t.ReadRTP()
		if err != nil {
			return
		}
		if t.Kind() != webrtc.RTPCodecTypeVideo {
			continue
		}
		w.videoPkts.Add(1)
		w.mu.Lock()
		w.videoSeqs = append(w.videoSeqs, p.SequenceNumber)
		w.mu.Unlock()
		if width, _, ok := codec.VP8KeyframeSize(p.Payload); ok && int32(width) != w.lastWidth.Swap(int32(width)) {
			w.mu.Lock()
			w.switchedAt = append(w.switchedAt, time.Now())
			w.mu.Unlock()
		}
	}
}

// joinWatcher joins room as a viewer whose downlink passes through a netsim link.
func (e *env) joinWatcher(room, identity string) *layerWatcher {
	e.t.Helper()
	w := &layerWatcher{link: netsim.NewLink(1)}
	n, err := netsim.NewNet(w.link)
	if err != nil {
		e.t.Fatal(err)
	}
	api, err := client.NewAPI(client.APIOptions{IncludeLoopback: true, NetworkTypes: []webrtc.NetworkType{webrtc.NetworkTypeUDP4}, Net: n})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w.c, err = client.Join(ctx, client.Config{URL: e.url, Token: e.token(room, identity, auth.RoleViewer), Room: room, API: api, OnTrack: w.onTrack})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { w.c.Close() })
	return w
}

// A simulcast live: a viewer capped at 400 kbit/s settles on the lowest layer
// within 5 s while one with room stays on the highest; the host hears which
// layers are watched; lifting the cap lets the capped viewer climb back; every
// switch keeps the viewer's sequence numbers continuous.
func TestSimulcastLayersFollowEachViewersBandwidth(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for about 30 s")
	}
	e := newEnv(t)
	h := e.startSimulcastHost("sim")
	capped, roomy := e.joinWatcher("sim", "capped"), e.joinWatcher("sim", "roomy")
	waitFor(t, 10*time.Second, "both viewers see video", func() bool {
		return capped.lastWidth.Load() > 0 && roomy.lastWidth.Load() > 0
	})
	capped.link.Set(0, 400_000)
	start := time.Now()
	waitFor(t, 5*time.Second, "the capped viewer on the lowest layer", func() bool { return capped.lastWidth.Load() == 320 })
	t.Logf("capped viewer on the lowest layer after %v", time.Since(start).Round(10*time.Millisecond))
	// It stays there while capped; the other keeps the highest layer. If it
	// was low before the cap (a loaded machine), its backoff may allow one
	// probe upward meanwhile, which the cap fails: it must be back at once.
	time.Sleep(2 * time.Second)
	waitFor(t, 5*time.Second, "the capped viewer still on the lowest layer", func() bool { return capped.lastWidth.Load() == 320 })
	// On a busy machine the viewer with room may see real loss (its socket
	// overflows) and step down for a moment; it must be back on top soon.
	waitFor(t, 10*time.Second, "the viewer with room on the highest layer", func() bool { return roomy.lastWidth.Load() == 1280 })
	// The host is told that q and f are watched, h not.
	waitFor(t, 5*time.Second, "layers message", func() bool {
		for {
			select {
			case m := <-h.c.Events():
				if m.Type == wire.TypeLayers && slices.Equal(m.RIDs, []string{"q", "f"}) {
					return true
				}
			default:
				return false
			}
		}
	})

	capped.link.Set(0, 0)
	lifted := time.Now()
	waitFor(t, 25*time.Second, "the capped viewer back on the highest layer", func() bool { return capped.lastWidth.Load() == 1280 })
	t.Logf("back on the highest layer %v after the cap was lifted", time.Since(lifted).Round(10*time.Millisecond))

	// Across all switches the roomy viewer's stream never broke, and the
	// capped one's sequence numbers only ever moved forward.
	for _, w := range []*layerWatcher{capped, roomy} {
		w.mu.Lock()
		seqs := slices.Clone(w.videoSeqs)
		w.mu.Unlock()
		for i := 1; i < len(seqs); i++ {
			if d := int16(seqs[i] - seqs[i-1]); d > 1000 || d < -1000 {
				t.Fatalf("sequence jumped from %d to %d", seqs[i-1], seqs[i])
			}
		}
	}
	roomy.mu.Lock()
	t.Logf("the viewer with room changed layers %d times", len(roomy.switchedAt)-1)
	roomy.mu.Unlock()
}
