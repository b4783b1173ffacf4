package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/client/synth"
	"github.com/talkrelay/talkrelay/server"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// hearWindow is how recent a speaker's last packet must be for a member to
// count as hearing it.
const hearWindow = 300 * time.Millisecond

// member is a participant of a group room: it records, per speaker (the
// stream id of the track), the packets it receives, and may speak.
type member struct {
	t   *testing.T
	who string
	c   *client.Client

	mu    sync.Mutex
	last  map[string]time.Time // speaker → last packet
	pkts  map[string][]packet
	ended map[string]bool // speaker → its track ended

	audio  *synth.Audio
	cancel context.CancelFunc
	done   chan error
}

// joinGroup joins room as identity with a group room token.
func (e *env) joinGroup(room, identity string, role auth.Role) *member {
	e.t.Helper()
	m, err := e.tryJoinGroup(room, identity, role)
	if err != nil {
		e.t.Fatalf("join group %s as %s: %v", room, identity, err)
	}
	return m
}

func (e *env) tryJoinGroup(room, identity string, role auth.Role) (*member, error) {
	tok, err := e.node.Minter.Mint(auth.Grant{Identity: identity, Name: identity, Room: room, Role: role, RoomType: auth.RoomTypeGroup}, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	m := &member{t: e.t, who: identity, last: map[string]time.Time{}, pkts: map[string][]packet{}, ended: map[string]bool{}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Join(ctx, client.Config{URL: e.url, Token: tok, Room: room, API: e.api, OnTrack: m.onTrack})
	if err != nil {
		return nil, err
	}
	m.c = c
	e.t.Cleanup(func() {
		m.stop()
		c.Close()
	})
	return m, nil
}

func (m *member) onTrack(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	from := t.StreamID()
	defer func() {
		m.mu.Lock()
		m.ended[from] = true
		m.mu.Unlock()
	}()
	for {
		p, _, err := t.ReadRTP()
		if err != nil {
			return
		}
		rec := packet{seq: p.SequenceNumber, ts: p.Timestamp, ssrc: p.SSRC, at: time.Now()}
		rec.stamp, rec.ok = synth.ReadAudioStamp(p.Payload)
		m.mu.Lock()
		m.last[from] = rec.at
		m.pkts[from] = append(m.pkts[from], rec)
		m.mu.Unlock()
	}
}

// hearing returns the speakers m received packets from within hearWindow.
func (m *member) hearing() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for who, at := range m.last {
		if time.Since(at) < hearWindow {
			out = append(out, who)
		}
	}
	sort.Strings(out)
	return out
}

func (m *member) received(from string) []packet {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.pkts[from])
}

// speak publishes one Opus track at level (-dBov), each packet carrying it
// in the audio level header extension, paced in real time.
func (m *member) speak(level uint8) {
	m.t.Helper()
	if err := m.trySpeak(level); err != nil {
		m.t.Fatalf("%s speaks: %v", m.who, err)
	}
}

func (m *member) trySpeak(level uint8) error {
	at, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", m.who)
	if err != nil {
		m.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	senders, err := m.c.Publish(ctx, client.PublishOptions{}, at)
	if err != nil {
		return err
	}
	id := client.AudioLevelExtensionID(senders[0])
	if id == 0 {
		m.t.Fatalf("%s: audio level extension not negotiated", m.who)
	}
	waitFor(m.t, 10*time.Second, m.who+" publisher connected", func() bool {
		return m.c.Publisher().ConnectionState() == webrtc.PeerConnectionStateConnected
	})
	m.audio = synth.NewAudio(synth.AudioConfig{Level: level})
	pctx, stop := context.WithCancel(context.Background())
	m.cancel, m.done = stop, make(chan error, 1)
	write := func(p *rtp.Packet) error {
		if err := p.Header.SetExtension(id, []byte{synth.AudioLevelByte(m.audio.Level())}); err != nil {
			return err
		}
		return at.WriteRTP(p)
	}
	// Pacer: owned by the member, ends at stop.
	go func() { m.done <- synth.Pace(pctx, nil, nil, m.audio, write) }()
	return nil
}

func (m *member) stop() {
	if m.cancel == nil {
		return
	}
	m.cancel()
	if err := <-m.done; err != nil && !errors.Is(err, io.ErrClosedPipe) {
		m.t.Errorf("%s pacing: %v", m.who, err)
	}
	m.cancel = nil
}

// nextGroupEvent returns m's next event of type typ for which match holds.
func (m *member) next(typ string, match func(wire.Message) bool) wire.Message {
	m.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		msg := nextEvent(m.t, m.c, typ, time.Until(deadline))
		if match == nil || match(msg) {
			return msg
		}
	}
}

// expectHearing waits until every member hears exactly what want says, then
// checks it holds for a second.
func expectHearing(t *testing.T, within time.Duration, members []*member, want func(*member) []string) {
	t.Helper()
	ok := func() bool {
		for _, m := range members {
			if !slices.Equal(m.hearing(), want(m)) {
				return false
			}
		}
		return true
	}
	start := time.Now()
	deadline := start.Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			for _, m := range members {
				t.Logf("%s hears %v, want %v", m.who, m.hearing(), want(m))
			}
			t.Fatalf("members did not hear the expected speakers within %v", within)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("settled after %v", time.Since(start).Round(10*time.Millisecond))
	// Then it holds: nobody hears anyone else. (A stream may look silent for
	// a moment on a loaded machine, so hearing fewer is not a failure.)
	for range 10 {
		time.Sleep(100 * time.Millisecond)
		for _, m := range members {
			w := want(m)
			for _, who := range m.hearing() {
				if !slices.Contains(w, who) {
					t.Fatalf("%s hears %s; want only %v", m.who, who, w)
				}
			}
		}
	}
}

// The core of a group voice room: ten speakers of distinct loudness; every
// listener hears exactly the three loudest, the three loudest hear each
// other and the fourth, nobody hears itself; when loudness changes, what
// everyone hears follows within two seconds; gated streams have no
// sequence gaps.
func TestGroupForwardsTheLoudestThree(t *testing.T) {
	e := newEnv(t)
	const room = "voices"
	levels := []uint8{10, 15, 20, 25, 30, 35, 40, 45, 50, 55} // s0 the loudest
	var speakers, all []*member
	for i, l := range levels {
		s := e.joinGroup(room, "s"+string(rune('0'+i)), auth.RoleViewer)
		s.speak(l)
		speakers = append(speakers, s)
	}
	var listeners []*member
	for _, who := range []string{"l1", "l2", "l3"} {
		listeners = append(listeners, e.joinGroup(room, who, auth.RoleViewer))
	}
	all = append(append(all, speakers...), listeners...)

	hears := func(top []string, next string) func(*member) []string {
		return func(m *member) []string {
			if !slices.Contains(top, m.who) {
				return sortedCopy(top)
			}
			out := []string{next}
			for _, s := range top {
				if s != m.who {
					out = append(out, s)
				}
			}
			return sortedCopy(out)
		}
	}
	expectHearing(t, 15*time.Second, all, hears([]string{"s0", "s1", "s2"}, "s3"))
	// Every member was told who speaks (in the loudness order of the
	// moment the set changed).
	for _, m := range all {
		m.next(wire.TypeActiveSpeakers, func(msg wire.Message) bool {
			return slices.Equal(sortedCopy(msg.Speakers), []string{"s0", "s1", "s2"})
		})
	}

	// The quietest starts shouting: it replaces the quietest of the three.
	speakers[9].audio.SetLevel(5)
	expectHearing(t, 2*time.Second, all, hears([]string{"s9", "s0", "s1"}, "s2"))
	msg := listeners[0].next(wire.TypeActiveSpeakers, func(msg wire.Message) bool { return slices.Contains(msg.Speakers, "s9") })
	if !slices.Equal(sortedCopy(msg.Speakers), []string{"s0", "s1", "s9"}) {
		t.Fatalf("active_speakers %v, want s9, s0 and s1", msg.Speakers)
	}

	for _, m := range all {
		m.mu.Lock()
		_, self := m.pkts[m.who]
		m.mu.Unlock()
		if self {
			t.Fatalf("%s received its own voice", m.who)
		}
	}
	// s9 was gated off, then on: one continuous stream at each listener.
	// s2 flowed, then stopped for listeners, while the top three kept it.
	for _, l := range listeners {
		checkContinuous(t, l.who+" from s9", l.received("s9"))
		checkContinuous(t, l.who+" from s2", l.received("s2"))
	}
	checkContinuous(t, "s0 from s2", speakers[0].received("s2"))
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}

// Mute and unmute, raised hands, and the host muting and removing others.
func TestGroupMuteHandsAndHostControls(t *testing.T) {
	e := newEnv(t)
	const room = "panel"
	host := e.joinGroup(room, "host", auth.RoleHost)
	a := e.joinGroup(room, "a", auth.RoleViewer)
	b := e.joinGroup(room, "b", auth.RoleViewer)
	l := e.joinGroup(room, "l", auth.RoleViewer)
	if j := l.c.Joined(); j.RoomType != auth.RoomTypeGroup {
		t.Fatalf("joined room_type %q, want group", j.RoomType)
	}
	host.speak(20)
	a.speak(25)
	b.speak(30)
	everyone := []*member{host, a, b, l}
	expectHearing(t, 15*time.Second, []*member{l}, func(*member) []string { return []string{"a", "b", "host"} })

	// a mutes itself: everyone is told whose microphone went off, and l
	// stops hearing it.
	if err := a.c.SetMuted("audio", true); err != nil {
		t.Fatal(err)
	}
	for _, m := range everyone {
		m.next(wire.TypeTrackMuted, func(msg wire.Message) bool { return msg.Identity == "a" && *msg.Muted })
	}
	expectHearing(t, 2*time.Second, []*member{l}, func(*member) []string { return []string{"b", "host"} })
	if err := a.c.SetMuted("audio", false); err != nil {
		t.Fatal(err)
	}
	l.next(wire.TypeTrackMuted, func(msg wire.Message) bool { return msg.Identity == "a" && !*msg.Muted })
	expectHearing(t, 2*time.Second, []*member{l}, func(*member) []string { return []string{"a", "b", "host"} })
	checkContinuous(t, "l from a across its mute", l.received("a"))

	// A listener may not mute its (absent) microphone, nor use host controls.
	if err := l.c.SetMuted("audio", true); err != nil {
		t.Fatal(err)
	}
	if msg := l.next(wire.TypeError, nil); msg.Error.Code != wire.CodeForbidden {
		t.Fatalf("listener mute: %+v", msg.Error)
	}
	for _, req := range []func(string) error{l.c.MuteParticipant, l.c.RemoveParticipant} {
		if err := req("b"); err != nil {
			t.Fatal(err)
		}
		if msg := l.next(wire.TypeError, nil); msg.Error.Code != wire.CodeForbidden {
			t.Fatalf("listener host control: %+v", msg.Error)
		}
	}

	// Hands: raised and lowered, everyone hears; a newcomer learns who has one up.
	if err := l.c.RaiseHand(true); err != nil {
		t.Fatal(err)
	}
	for _, m := range everyone {
		m.next(wire.TypeHandRaised, func(msg wire.Message) bool { return msg.Identity == "l" && *msg.Raised })
	}
	late := e.joinGroup(room, "late", auth.RoleViewer)
	late.next(wire.TypeHandRaised, func(msg wire.Message) bool { return msg.Identity == "l" && *msg.Raised })
	late.next(wire.TypeActiveSpeakers, func(msg wire.Message) bool { return len(msg.Speakers) == 3 })
	if err := host.c.LowerHand("l"); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*member{l, late} {
		m.next(wire.TypeHandRaised, func(msg wire.Message) bool { return msg.Identity == "l" && !*msg.Raised })
	}

	// The host mutes b: b and everyone are told, and b's voice stops.
	if err := host.c.MuteParticipant("b"); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*member{b, l, a} {
		m.next(wire.TypeTrackMuted, func(msg wire.Message) bool { return msg.Identity == "b" && *msg.Muted })
	}
	expectHearing(t, 2*time.Second, []*member{l}, func(*member) []string { return []string{"a", "host"} })
	if err := host.c.MuteParticipant("nobody"); err != nil {
		t.Fatal(err)
	}
	if msg := host.next(wire.TypeError, nil); msg.Error.Code != wire.CodeNoSuchParticipant {
		t.Fatalf("muting a stranger: %+v", msg.Error)
	}

	// Chat works as in every room: a listener's message reaches the host.
	hostChat := newChatter(t, host.c)
	newChatter(t, l.c).send(t, map[string]any{"type": "send", "id": "c1", "text": "may I speak?"})
	waitFor(t, 5*time.Second, "the host to read the listener's chat", func() bool {
		msgs := hostChat.messages()
		return len(msgs) > 0 && msgs[len(msgs)-1].From == "l" && msgs[len(msgs)-1].Text == "may I speak?"
	})

	// The host removes a: its connection closes with kicked, its track ends
	// at the others.
	if err := host.c.RemoveParticipant("a"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a was not disconnected")
	}
	var we *wire.Error
	if !errors.As(a.c.Err(), &we) || we.Code != wire.CodeKicked {
		t.Fatalf("a ended with %v, want kicked", a.c.Err())
	}
	waitFor(t, 5*time.Second, "a's track to end at l", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.ended["a"]
	})
	expectHearing(t, 2*time.Second, []*member{l}, func(*member) []string { return []string{"host"} })
}

// Only MaxSpeakers participants speak; the next one's offer is refused,
// until a place is free.
func TestGroupSpeakerLimit(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.MaxSpeakers = 2 })
	const room = "small"
	a := e.joinGroup(room, "a", auth.RoleViewer)
	b := e.joinGroup(room, "b", auth.RoleViewer)
	c := e.joinGroup(room, "c", auth.RoleViewer)
	a.speak(30)
	b.speak(30)
	err := c.trySpeak(30)
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodeForbidden {
		t.Fatalf("third speaker: %v, want forbidden", err)
	}
	expectHearing(t, 10*time.Second, []*member{c}, func(*member) []string { return []string{"a", "b"} })
	if err := a.c.Leave(); err != nil {
		t.Fatal(err)
	}
	c.speak(30) // a refused Publish may be retried

	expectHearing(t, 10*time.Second, []*member{b}, func(*member) []string { return []string{"c"} })
}

// A room's type is fixed by whoever opens it: a token for the other type
// is refused with a clear, fatal error.
func TestGroupRoomTypeMismatch(t *testing.T) {
	e := newEnv(t)
	e.join("stage", "viewer", auth.RoleViewer, nil) // opens a live room
	_, err := e.tryJoinGroup("stage", "g", auth.RoleViewer)
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodeWrongRoomType || !we.Fatal {
		t.Fatalf("group token for a live room: %v", err)
	}
	e.joinGroup("huddle", "g", auth.RoleViewer)
	if _, err := joinErr(e, "huddle", "v", auth.RoleViewer); !errors.As(err, &we) || we.Code != wire.CodeWrongRoomType {
		t.Fatalf("live token for a group room: %v", err)
	}
	t.Logf("refusal: %s", we.Message)

	_, samples := scrape(t, e.url)
	if samples[`talkrelay_rooms{type="group"}`] != 1 || samples[`talkrelay_rooms{type="live"}`] != 1 {
		t.Fatalf("rooms by type: group %v, live %v", samples[`talkrelay_rooms{type="group"}`], samples[`talkrelay_rooms{type="live"}`])
	}
}

// Group rooms that fill and empty leave no goroutines behind: the speaker
// selector, feeds and their readers end with the room.
func TestGroupRoomsLeaveNoGoroutines(t *testing.T) {
	e := newEnv(t)
	base := settledGoroutines()
	for round := range 3 {
		room := fmt.Sprintf("gleak%d", round)
		var members []*member
		for i := range 6 {
			m := e.joinGroup(room, fmt.Sprintf("m%d", i), auth.RoleViewer)
			if i < 4 {
				m.speak(uint8(20 + 5*i))
			}
			members = append(members, m)
		}
		expectHearing(t, 10*time.Second, members[4:], func(*member) []string { return []string{"m0", "m1", "m2"} })
		for _, m := range members {
			m.stop()
			if err := m.c.Leave(); err != nil {
				t.Fatal(err)
			}
		}
	}
	expectGoroutinesBack(t, base)
	if _, ok := e.node.Rooms().Room("gleak0"); ok {
		t.Fatal("an emptied group room is still open")
	}
}
