package loadgen

import (
	"strings"
	"testing"
	"time"
)

func TestSummariseChat(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	start, end := t0.Add(10*time.Second), t0.Add(20*time.Second)
	at := func(d time.Duration) time.Time { return start.Add(d) }
	// Five messages: three acked (10, 20, 30 ms), one rate limited, one
	// unanswered; one more never left.
	ledger := ledgerSnapshot{msgs: []sentChat{
		{at: at(0), ackAt: at(10 * time.Millisecond), state: chatAcked},
		{at: at(time.Second), ackAt: at(time.Second + 20*time.Millisecond), state: chatAcked},
		{at: at(2 * time.Second), ackAt: at(2*time.Second + 5*time.Millisecond), state: chatRejected, code: "rate_limited"},
		{at: at(3 * time.Second), ackAt: at(3*time.Second + 30*time.Millisecond), state: chatAcked},
		{at: at(4 * time.Second), state: chatPending},
		{at: at(5 * time.Second), state: chatFailed},
	}}
	for _, n := range []int{0, 1, 3} {
		ledger.acked.set(n)
	}
	bits := func(ns ...int) bitset {
		var b bitset
		for _, n := range ns {
			b.set(n)
		}
		return b
	}
	ready := t0.Add(time.Second)
	outs := []viewerOutcome{
		// Counted: connected throughout. The delivery of unacked 4 is not.
		{connected: true, chat: &chatOutcome{receiver: true, readyAt: ready, got: bits(0, 1, 3, 4), latencyMs: []float64{1, 2, 3, 4}}},
		{connected: true, chat: &chatOutcome{receiver: true, readyAt: ready, got: bits(0, 3), dups: 1, gapMsgs: 1, latencyMs: []float64{5, 6}}},
		// Not counted: opened late, ended early, media down, not a receiver.
		{connected: true, chat: &chatOutcome{receiver: true, readyAt: start.Add(time.Millisecond), got: bits(1, 3), latencyMs: []float64{7, 8}}},
		{connected: true, chat: &chatOutcome{receiver: true, readyAt: ready, endedAt: end.Add(-time.Second), got: bits(0)}},
		{connected: false, chat: &chatOutcome{receiver: true, readyAt: ready, got: bits(0, 1, 3)}},
		{connected: true, chat: &chatOutcome{readyAt: ready}},
		{connected: true},
	}
	cfg := Config{Chatters: 2, ChatRate: 1}
	w := &chatWindow{start: start, end: end, ledger: ledger}
	r := &Report{}
	summariseChat(r, cfg, outs, w)

	if r.ChatSent != 5 || r.ChatAcked != 3 || r.ChatUnanswered != 1 || r.ChatSendFailed != 1 ||
		len(r.ChatRejected) != 1 || r.ChatRejected["rate_limited"] != 1 {
		t.Fatalf("sent %d acked %d unanswered %d failed %d rejected %v",
			r.ChatSent, r.ChatAcked, r.ChatUnanswered, r.ChatSendFailed, r.ChatRejected)
	}
	if r.ChatReceivers != 2 || r.ChatDelivered != 5 || r.ChatExpected != 6 {
		t.Fatalf("receivers %d delivered %d expected %d", r.ChatReceivers, r.ChatDelivered, r.ChatExpected)
	}
	if r.ChatDeliveryRatio == nil || *r.ChatDeliveryRatio != 5.0/6 || r.ChatNote != "" {
		t.Fatalf("ratio %v note %q", r.ChatDeliveryRatio, r.ChatNote)
	}
	if p := r.ChatLatencyMs; p == nil || p.N != 8 || p.P50 != 4 || p.P95 != 8 || p.P99 != 8 {
		t.Fatalf("latency %+v", p)
	}
	if p := r.ChatAckMs; p == nil || p.N != 3 || p.P50 != 20 || p.P99 != 30 {
		t.Fatalf("ack %+v", p)
	}
	if r.ChatDuplicates != 1 || r.ChatGapMessages != 1 {
		t.Fatalf("dups %d gaps %d", r.ChatDuplicates, r.ChatGapMessages)
	}
	var table strings.Builder
	if err := WriteTable(&table, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"5 sent, 3 acked, 1 rejected (rate_limited 1), 1 unanswered, 1 not sent",
		"83.3333% (5 of 6 to 2 receivers", "1 skipped by the server, 1 duplicates", "chat ack ms"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	th := Thresholds{MaxLoss: -1, MaxChatLoss: 0.1}
	if bad := th.Check(r); len(bad) != 1 || !strings.Contains(bad[0], "chat loss 0.16667 > max 0.10000") {
		t.Fatalf("threshold: %q", bad)
	}
	th.MaxChatLoss = 0.2
	if bad := th.Check(r); len(bad) != 0 {
		t.Fatalf("threshold: %q", bad)
	}
}

func TestSummariseChatNotMeasured(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	w := &chatWindow{start: start, end: start.Add(time.Second)}
	opened := []viewerOutcome{{connected: true, chat: &chatOutcome{receiver: true, readyAt: start.Add(-time.Second)}}}
	closed := []viewerOutcome{{connected: true, chat: &chatOutcome{receiver: true}}, {connected: true}}
	lateOnly := []viewerOutcome{{connected: true, chat: &chatOutcome{receiver: true, readyAt: start.Add(time.Second)}}}
	acked := ledgerSnapshot{msgs: []sentChat{{at: start, ackAt: start, state: chatAcked}}, acked: bitset{1}}
	tests := []struct {
		name     string
		chatters int
		outs     []viewerOutcome
		w        *chatWindow
		note     string
		measured bool // counts reported, ratio still null
	}{
		{"no chatters", 0, opened, nil, chatNoteOff, false},
		{"no channel", 2, closed, w, ChatNote, false},
		{"no window", 2, opened, &chatWindow{}, chatNoteNoWindow, false},
		{"nothing acked", 2, opened, w, chatNoteNoAck, true},
		{"no receiver throughout", 2, lateOnly, &chatWindow{start: start, end: w.end, ledger: acked}, chatNoteNoRecv, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &Report{}
			summariseChat(r, Config{Chatters: tc.chatters, ChatRate: 1}, tc.outs, tc.w)
			if r.ChatDeliveryRatio != nil || r.ChatNote != tc.note || (r.ChatRejected != nil) != tc.measured {
				t.Fatalf("ratio %v note %q rejected %v", r.ChatDeliveryRatio, r.ChatNote, r.ChatRejected)
			}
			if !tc.measured && (r.ChatLatencyMs != nil || r.ChatAckMs != nil) {
				t.Fatal("percentiles without chat")
			}
			bad := Thresholds{MaxLoss: -1, MaxChatLoss: 0.5}.Check(r)
			if len(bad) != 1 || !strings.Contains(bad[0], "chat loss not measured") {
				t.Fatalf("threshold: %q", bad)
			}
		})
	}
}

func TestChatRateWarning(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string // "" for none
	}{
		{Config{Chatters: 20, ChatRate: 0.5, Duration: time.Hour}, ""},
		{Config{Chatters: 20, ChatRate: 20.0 / 30, Duration: time.Hour}, ""},
		{Config{Chatters: 0, ChatRate: 5, Duration: time.Hour}, ""},
		// 1/s drains the burst of 20 at 1/3 per s: 60 s.
		{Config{Chatters: 20, ChatRate: 1, Duration: 20 * time.Second}, "covers about 1m0s, so this 20s window stays within it"},
		{Config{Chatters: 20, ChatRate: 1, Duration: 2 * time.Minute}, "after about 1m0s messages will be refused as rate_limited"},
	}
	for _, tc := range tests {
		got := ChatRateWarning(tc.cfg)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("rate %g for %v: %q, want %q", tc.cfg.ChatRate, tc.cfg.Duration, got, tc.want)
		}
	}
}
