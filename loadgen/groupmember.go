package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/client/synth"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// groupEnv is what every member shares with the run.
type groupEnv struct {
	url, room string
	token     func(identity string, host bool) (string, error)
	api       *webrtc.API
	gate      *phaseGate
	plan      *loudnessPlan
	joinTO    time.Duration
	connected *atomic.Int64 // members whose media is up
}

// groupMember is one participant of the group room: a speaker (publishing
// synthetic Opus whose level follows the plan) or a listener. Both receive
// one track per other speaker and note, per track, when a packet last came.
type groupMember struct {
	identity string
	speaker  int // index in the loudness plan; -1 for listeners
	rx       *receiver

	// Written by the member's goroutine during setup, read after.
	c         *client.Client
	voice     *groupVoice // speakers, once publishing
	joinStart time.Time
	joinedAt  time.Time

	mu     sync.Mutex
	err    error
	tracks map[string]*atomic.Int64 // stream id (speaker identity) → Unix ns of its last packet

	ownVoice       atomic.Bool  // received a track of its own identity
	speakerChanges atomic.Int64 // active_speakers received in the window
}

func newGroupMember(identity string, speaker int, rx *receiver) *groupMember {
	return &groupMember{identity: identity, speaker: speaker, rx: rx, tracks: map[string]*atomic.Int64{}}
}

// run is the member's whole life, on the goroutine the run gave it: join
// and publish (bounded by joinCtx), wait for media (until connectCtx ends),
// then take part until life ends, and close.
func (m *groupMember) run(env *groupEnv, joinCtx, connectCtx, life context.Context, joined, connected *sync.WaitGroup) {
	defer m.close()
	err := m.join(joinCtx, env)
	joined.Done()
	if err == nil {
		err = m.awaitConnected(connectCtx)
	}
	connected.Done()
	if err != nil {
		m.setErr(err)
		return
	}
	env.connected.Add(1)
	defer env.connected.Add(-1)
	m.watch(life, env.gate)
}

func (m *groupMember) join(ctx context.Context, env *groupEnv) error {
	tok, err := env.token(m.identity, m.speaker == 0)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, env.joinTO)
	defer cancel()
	m.joinStart = time.Now()
	c, err := client.Join(ctx, client.Config{
		URL: env.url, Token: tok, Room: env.room, API: env.api,
		OnTrack: func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { m.readTrack(t) },
	})
	if err != nil {
		return fmt.Errorf("join: %w", err)
	}
	m.c, m.joinedAt = c, time.Now()
	if m.speaker < 0 {
		return nil
	}
	v, err := publishVoice(ctx, c, m.identity, func(now time.Time) uint8 { return env.plan.level(m.speaker, now) })
	if err != nil {
		return fmt.Errorf("speaker: %w", err)
	}
	m.voice = v
	return nil
}

// awaitConnected waits for the subscriber connection, which carries what
// the member hears.
func (m *groupMember) awaitConnected(ctx context.Context) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if pc := m.c.Subscriber(); pc != nil {
			switch pc.ConnectionState() {
			case webrtc.PeerConnectionStateConnected:
				return nil
			case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
				return errors.New("subscriber connection failed")
			}
		}
		select {
		case <-ctx.Done():
			return errors.New("media connection not up within the connect timeout")
		case <-m.c.Done():
			return fmt.Errorf("connection ended: %w", m.c.Err())
		case <-tick.C:
		}
	}
}

// watch reads the member's events until life ends, counting the active
// speaker changes it is told of in the window.
func (m *groupMember) watch(life context.Context, gate *phaseGate) {
	for {
		select {
		case <-life.Done():
			return
		case msg, ok := <-m.c.Events():
			if !ok {
				m.setErr(fmt.Errorf("connection ended: %w", m.c.Err()))
				return
			}
			if msg.Type == wire.TypeActiveSpeakers && gate.get() == phaseSteady {
				m.speakerChanges.Add(1)
			}
		}
	}
}

// readTrack records one received speaker track until it ends.
func (m *groupMember) readTrack(t *webrtc.TrackRemote) {
	from := t.StreamID()
	if from == m.identity {
		m.ownVoice.Store(true)
	}
	m.mu.Lock()
	last := m.tracks[from]
	if last == nil {
		last = &atomic.Int64{}
		m.tracks[from] = last
	}
	m.mu.Unlock()
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
		last.Store(at.UnixNano())
		info := packetInfo{ssrc: p.SSRC, seq: p.SequenceNumber, ts: p.Timestamp, at: at}
		if s, ok := synth.ReadAudioStamp(p.Payload); ok {
			info.sentAt = s.SentAt
		}
		m.rx.onPacket(info)
	}
}

// streams counts the tracks that delivered a packet within window of now.
func (m *groupMember) streams(now time.Time, window time.Duration) int {
	since := now.Add(-window).UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, last := range m.tracks {
		if last.Load() > since {
			n++
		}
	}
	return n
}

func (m *groupMember) live() bool {
	m.mu.Lock()
	failed := m.err != nil
	m.mu.Unlock()
	if failed || m.c == nil {
		return false
	}
	pc := m.c.Subscriber()
	return pc != nil && pc.ConnectionState() == webrtc.PeerConnectionStateConnected
}

func (m *groupMember) setErr(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err == nil {
		m.err = err
	}
}

func (m *groupMember) failure() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

func (m *groupMember) close() {
	if m.voice != nil {
		if err := m.voice.stop(); err != nil {
			m.setErr(err)
		}
	}
	if m.c != nil {
		_ = m.c.Close()
	}
}

// groupVoice is a speaker's microphone: synthetic Opus paced in real time,
// each packet stamped with its send time and carrying its level in the
// audio level header extension.
type groupVoice struct {
	audio  *synth.Audio
	sent   atomic.Uint64
	cancel context.CancelFunc
	done   chan error
}

// publishVoice publishes one audio track on c, waits for the publisher
// connection and starts pacing; level gives the loudness (-dBov) of the
// packet sent at a time.
func publishVoice(ctx context.Context, c *client.Client, stream string, level func(time.Time) uint8) (*groupVoice, error) {
	at, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", stream)
	if err != nil {
		return nil, fmt.Errorf("audio track: %w", err)
	}
	senders, err := c.Publish(ctx, client.PublishOptions{}, at)
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	id := client.AudioLevelExtensionID(senders[0])
	if id == 0 {
		return nil, errors.New("the SFU did not negotiate the audio level header extension")
	}
	if err := awaitPublisher(ctx, c); err != nil {
		return nil, err
	}
	v := &groupVoice{audio: synth.NewAudio(synth.AudioConfig{Now: time.Now}), done: make(chan error, 1)}
	pctx, cancel := context.WithCancel(context.Background())
	v.cancel = cancel
	ext := make([]byte, 1)
	write := func(p *rtp.Packet) error {
		v.audio.SetLevel(level(time.Now()))
		ext[0] = synth.AudioLevelByte(v.audio.Level())
		if err := p.Header.SetExtension(id, ext); err != nil {
			return err
		}
		v.sent.Add(1)
		return at.WriteRTP(p)
	}
	// Pacer: owned by the voice, ends at stop.
	go func() { v.done <- synth.Pace(pctx, nil, nil, v.audio, write) }()
	return v, nil
}

// awaitPublisher waits for c's publisher connection to be up: the SFU
// would drop media written before.
func awaitPublisher(ctx context.Context, c *client.Client) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		switch c.Publisher().ConnectionState() {
		case webrtc.PeerConnectionStateConnected:
			return nil
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			return errors.New("publisher connection failed")
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("publisher connection: %w", ctx.Err())
		case <-c.Done():
			return fmt.Errorf("connection ended: %w", c.Err())
		case <-tick.C:
		}
	}
}

func (v *groupVoice) stop() error {
	if v.cancel == nil {
		return nil
	}
	v.cancel()
	err := <-v.done
	v.cancel = nil
	if err == nil || errors.Is(err, io.ErrClosedPipe) {
		return nil
	}
	return fmt.Errorf("pacing: %w", err)
}

// loudnessPlan gives each speaker a different, varying loudness: a base
// level that differs per speaker, a slow swell of ±6 dB at a period of its
// own, and in turn, for one TurnInterval each, a speaker who talks over
// everyone. The active speakers so change every turn and between turns.
type loudnessPlan struct {
	start    time.Time
	speakers int
	turn     time.Duration
}

// level is speaker i's level (-dBov: lower is louder) at now.
func (p *loudnessPlan) level(i int, now time.Time) uint8 {
	t := now.Sub(p.start)
	if p.speakers > 1 && int(t/p.turn)%p.speakers == i {
		return 6 // this speaker's turn to talk over the others
	}
	base := 25.0
	if p.speakers > 1 {
		base += 30 * float64(i) / float64(p.speakers-1)
	}
	period := 3*time.Second + time.Duration(i)*500*time.Millisecond
	swell := 6 * math.Sin(2*math.Pi*t.Seconds()/period.Seconds()+float64(i))
	return uint8(min(max(base+swell, 0), 126))
}
