package loadgen

import (
	"encoding/json"
	"math/rand/v2"
	"sync"
	"time"
)

// Chat protocol names the generator uses (chat/PROTOCOL.md).
const (
	chatTypeSend     = "send"
	chatTypeMessages = "messages"
	chatTypeAck      = "ack"
	chatTypeError    = "error"
	chatTypeGap      = "gap"
	chatKindUser     = "user"
)

const (
	// chatLatencySamples bounds each receiver's chat latency reservoir.
	chatLatencySamples = 2048
	// chatJitter is the spread of each send around its even slot, as a
	// fraction of the interval between sends (±chatJitter/2).
	chatJitter = 0.5
)

// chatConn is what a chat peer needs of its client (a *client.Client).
type chatConn interface {
	ChatReady() <-chan struct{}
	ChatMessages() <-chan []byte
	SendChat([]byte) error
	Done() <-chan struct{}
	DroppedChat() uint64 // messages lost because ChatMessages was full
}

// chatEnv is what every chat peer shares with the run: the ledger and the
// steady window's start and end.
type chatEnv struct {
	ledger   *chatLedger
	rate     float64 // messages per second per chatter
	chatters int
	readyTO  time.Duration // how long a joined viewer waits for its chat channel

	steady chan struct{} // closed when the window starts; start is set before
	over   chan struct{} // closed when the window ends
	start  time.Time
	window time.Duration
}

func newChatEnv(cfg Config) *chatEnv {
	return &chatEnv{
		ledger: newChatLedger(), rate: cfg.ChatRate, chatters: cfg.Chatters, readyTO: cfg.JoinTimeout,
		steady: make(chan struct{}), over: make(chan struct{}), window: cfg.Duration,
	}
}

// begin and end mark the steady window; each runs once, from the run.
func (e *chatEnv) begin(at time.Time) {
	e.start = at
	close(e.steady)
}

func (e *chatEnv) end() { close(e.over) }

// chatPeer is one viewer's part in chat: a chatter sends on a schedule
// during the window, a receiver records what arrives. Either reads its
// channel, so that a chatter sees its acks.
type chatPeer struct {
	env      *chatEnv
	identity string
	chatter  int // index among the chatters; -1 for none
	receiver bool
	rx       chatRx
}

// chatRx is a peer's record of its chat channel.
type chatRx struct {
	mu      sync.Mutex
	readyAt time.Time // the channel opened; zero if it never did
	endedAt time.Time // the connection ended before teardown
	got     bitset    // message numbers delivered
	dups    uint64
	gapMsgs uint64 // messages the server said it skipped for us
	latency reservoir
	conn    chatConn // for its count of messages dropped here
}

func newChatPeer(env *chatEnv, identity string, chatter int, receiver bool, seed uint64) *chatPeer {
	p := &chatPeer{env: env, identity: identity, chatter: chatter, receiver: receiver}
	p.rx.latency = newReservoir(chatLatencySamples, seed)
	return p
}

// run is the peer's life on its own goroutine: wait for the chat channel
// (up to readyTO), then read it, and send if a chatter, until the client
// ends or life does.
func (p *chatPeer) run(c chatConn, life <-chan struct{}) {
	wait := time.NewTimer(p.env.readyTO)
	defer wait.Stop()
	select {
	case <-c.ChatReady():
	case <-wait.C:
		return // the server offers no chat
	case <-c.Done():
		return
	case <-life:
		return
	}
	p.rx.mu.Lock()
	p.rx.readyAt, p.rx.conn = time.Now(), c
	p.rx.mu.Unlock()

	var steady, over <-chan struct{}
	if p.chatter >= 0 {
		steady = p.env.steady
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var fire <-chan time.Time
	var sched *chatSchedule
	arm := func() {
		if at, ok := sched.next(); ok {
			timer.Reset(time.Until(at))
			fire = timer.C
		} else {
			fire = nil
		}
	}
	for {
		select {
		case b := <-c.ChatMessages():
			p.handle(b, time.Now())
		case <-steady:
			steady, over = nil, p.env.over
			sched = newChatSchedule(p.env, p.chatter, time.Now())
			arm()
		case <-fire:
			p.send(c)
			arm()
		case <-over:
			over, fire = nil, nil
			timer.Stop()
		case <-c.Done():
			p.rx.mu.Lock()
			p.rx.endedAt = time.Now()
			p.rx.mu.Unlock()
			return
		case <-life:
			return
		}
	}
}

// send sends the next chat message.
func (p *chatPeer) send(c chatConn) {
	n, id, text := p.env.ledger.add(p.identity, time.Now())
	b, _ := json.Marshal(struct {
		Type string `json:"type"`
		ID   string `json:"id"`
		Text string `json:"text"`
	}{chatTypeSend, id, text}) // plain strings always encode
	if err := c.SendChat(b); err != nil {
		p.env.ledger.failed(n)
	}
}

// chatFrame is every server frame the generator reads.
type chatFrame struct {
	Type     string `json:"type"`
	ID       string `json:"id"`
	Messages []struct {
		Text string `json:"text"`
		Kind string `json:"kind"`
	} `json:"messages"`
	Error *struct {
		Code string `json:"code"`
	} `json:"error"`
	From uint64 `json:"from"` // gap
	To   uint64 `json:"to"`
}

// handle takes one server frame that arrived at at.
func (p *chatPeer) handle(b []byte, at time.Time) {
	var f chatFrame
	if json.Unmarshal(b, &f) != nil {
		return
	}
	l := p.env.ledger
	switch f.Type {
	case chatTypeAck, chatTypeError:
		n, ok := parseRequestID(f.ID)
		if !ok {
			return
		}
		code := ""
		if f.Type == chatTypeError {
			code = "unknown"
			if f.Error != nil && f.Error.Code != "" {
				code = f.Error.Code
			}
		}
		l.answer(n, at, code)
	case chatTypeMessages:
		if !p.receiver {
			return
		}
		p.rx.mu.Lock()
		defer p.rx.mu.Unlock()
		for _, m := range f.Messages {
			if m.Kind != chatKindUser {
				continue
			}
			n, ok := l.parseChatText(m.Text)
			if !ok {
				continue
			}
			sent, ok := l.sentAt(n)
			if !ok {
				continue
			}
			if p.rx.got.set(n) {
				p.rx.dups++
				continue
			}
			p.rx.latency.add(ms(at.Sub(sent)))
		}
	case chatTypeGap:
		if p.receiver && f.To >= f.From {
			p.rx.mu.Lock()
			p.rx.gapMsgs += f.To - f.From + 1
			p.rx.mu.Unlock()
		}
	}
}

// chatOutcome is what the summary needs from one chat peer.
type chatOutcome struct {
	receiver         bool
	readyAt, endedAt time.Time
	got              bitset
	dups, gapMsgs    uint64
	latencyMs        []float64
	dropped          uint64 // by the client, before this generator read them
}

func (p *chatPeer) snapshot() *chatOutcome {
	p.rx.mu.Lock()
	defer p.rx.mu.Unlock()
	var dropped uint64
	if p.rx.conn != nil {
		dropped = p.rx.conn.DroppedChat()
	}
	return &chatOutcome{dropped: dropped,
		receiver: p.receiver, readyAt: p.rx.readyAt, endedAt: p.rx.endedAt,
		got: p.rx.got.clone(), dups: p.rx.dups, gapMsgs: p.rx.gapMsgs,
		latencyMs: append([]float64(nil), p.rx.latency.vals...),
	}
}

// chatSchedule spreads one chatter's sends evenly over the window: the
// chatters' slots interleave, and each send is jittered around its slot so
// the SFU does not see a metronome.
type chatSchedule struct {
	start    time.Time
	end      time.Time
	interval time.Duration
	phase    time.Duration
	slot     int
	rng      *rand.Rand
}

// newChatSchedule starts at the first slot not before now, so a chatter
// whose channel opened late does not burst to catch up.
func newChatSchedule(e *chatEnv, chatter int, now time.Time) *chatSchedule {
	s := &chatSchedule{start: e.start, end: e.start.Add(e.window),
		rng: rand.New(rand.NewPCG(uint64(chatter)+1, 0x63686174))}
	if e.rate <= 0 {
		s.end = s.start // never sends
		return s
	}
	s.interval = time.Duration(float64(time.Second) / e.rate)
	s.phase = time.Duration((float64(chatter) + 0.5) / float64(max(e.chatters, 1)) * float64(s.interval))
	for s.slotTime(s.slot).Before(now) {
		s.slot++
	}
	return s
}

func (s *chatSchedule) slotTime(i int) time.Time {
	return s.start.Add(s.phase + time.Duration(i)*s.interval)
}

// next is when to send next; false once the window has no slot left.
func (s *chatSchedule) next() (time.Time, bool) {
	at := s.slotTime(s.slot)
	if s.interval <= 0 || !at.Before(s.end) {
		return time.Time{}, false
	}
	s.slot++
	j := time.Duration((s.rng.Float64() - 0.5) * chatJitter * float64(s.interval))
	at = at.Add(j)
	if at.Before(s.start) {
		at = s.start
	}
	if !at.Before(s.end) {
		at = s.end.Add(-time.Millisecond)
	}
	return at, true
}
