package loadgen

import (
	"context"
	"fmt"
	"time"
)

// The SFU's default chat rate limit per identity (chat.Config.RateLimit): a
// token bucket of serverChatBurst, refilled at serverChatCount per
// serverChatPer.
const (
	serverChatCount = 20
	serverChatPer   = 30 * time.Second
	serverChatBurst = 20
)

// Notes on chat figures that are null.
const (
	// ChatNote is why the chat figures are null when the SFU offered no chat
	// channel.
	ChatNote         = "chat is not measured: the server offered no chat channel within the join timeout"
	chatNoteOff      = "chat is not measured: no chatters (--chatters 0)"
	chatNoteNoWindow = "chat is not measured: the steady window never started"
	chatNoteNoAck    = "chat delivery not measured: the server acked no message"
	chatNoteNoRecv   = "chat delivery not measured: no chat receiver was connected for the whole window"
)

// chatWindow is the chat side of a run, for the summary.
type chatWindow struct {
	start, end time.Time // the steady window; start is zero if it never began
	ledger     ledgerSnapshot
}

// eligible reports whether a receiver was connected for the whole window:
// its chat channel open before the window started, its connection not ended
// before the window did, and its media connection up at the end.
func (o *chatOutcome) eligible(w chatWindow, connected bool) bool {
	return o != nil && o.receiver && connected && !w.start.IsZero() &&
		!o.readyAt.IsZero() && !o.readyAt.After(w.start) &&
		(o.endedAt.IsZero() || !o.endedAt.Before(w.end))
}

// summariseChat fills the report's chat figures. The delivery ratio counts,
// for every receiver connected for the whole window, the acked messages it
// received, over acked messages × those receivers. Latency samples come
// from every receiver.
func summariseChat(r *Report, cfg Config, outs []viewerOutcome, w *chatWindow) {
	r.ChatNote = ""
	offered := false
	for _, o := range outs {
		offered = offered || (o.chat != nil && !o.chat.readyAt.IsZero())
	}
	switch {
	case cfg.Chatters == 0 || w == nil:
		r.ChatNote = chatNoteOff
		return
	case !offered:
		r.ChatNote = ChatNote
		return
	case w.start.IsZero():
		r.ChatNote = chatNoteNoWindow
		return
	}
	r.ChatRejected = map[string]int{}
	var ackMs, latency []float64
	for _, m := range w.ledger.msgs {
		switch m.state {
		case chatFailed:
			r.ChatSendFailed++
			continue
		case chatPending:
			r.ChatUnanswered++
		case chatAcked:
			r.ChatAcked++
			ackMs = append(ackMs, ms(m.ackAt.Sub(m.at)))
		case chatRejected:
			r.ChatRejected[m.code]++
		}
		r.ChatSent++
	}
	for _, o := range outs {
		if o.chat == nil || !o.chat.receiver {
			continue
		}
		latency = append(latency, o.chat.latencyMs...)
		r.ChatDuplicates += o.chat.dups
		r.ChatGapMessages += o.chat.gapMsgs
		r.ChatDroppedLocally += o.chat.dropped
		if o.chat.eligible(*w, o.connected) {
			r.ChatReceivers++
			r.ChatDelivered += uint64(o.chat.got.andCount(w.ledger.acked))
		}
	}
	r.ChatExpected = uint64(r.ChatAcked) * uint64(r.ChatReceivers)
	r.ChatAckMs, r.ChatLatencyMs = percentiles(ackMs), percentiles(latency)
	switch {
	case r.ChatAcked == 0:
		r.ChatNote = chatNoteNoAck
	case r.ChatReceivers == 0:
		r.ChatNote = chatNoteNoRecv
	default:
		ratio := float64(r.ChatDelivered) / float64(r.ChatExpected)
		r.ChatDeliveryRatio = &ratio
	}
}

// ChatRateWarning says whether cfg's chat rate outruns the SFU's default
// per-identity rate limit, and when that starts to refuse messages; ""
// when it does not.
func ChatRateWarning(cfg Config) string {
	limit := serverChatCount / serverChatPer.Seconds()
	if cfg.Chatters == 0 || cfg.ChatRate <= limit {
		return ""
	}
	msg := fmt.Sprintf("chat rate %.3g/s per chatter exceeds the SFU's default chat limit of %d messages per %v (%.2f/s)",
		cfg.ChatRate, serverChatCount, serverChatPer, limit)
	// The bucket starts full: sends are refused once rate×t > burst + limit×t.
	lasts := time.Duration(float64(serverChatBurst) / (cfg.ChatRate - limit) * float64(time.Second))
	if cfg.Duration > 0 && cfg.Duration < lasts {
		return msg + fmt.Sprintf("; the burst of %d covers about %v, so this %v window stays within it",
			serverChatBurst, lasts.Round(time.Second), cfg.Duration)
	}
	return msg + fmt.Sprintf("; after about %v messages will be refused as rate_limited", lasts.Round(time.Second))
}

// chatPending is what the run still waits for after the window: replies
// to sent messages, and acked messages not yet at receivers that are still
// connected and were there for the whole window.
func (r *run) chatPending() (unanswered, missing int) {
	l := r.chat.ledger
	_, _, unanswered = l.counts()
	snap := l.snapshot()
	w := chatWindow{start: r.chat.start, end: r.chatEnd}
	acked := snap.acked.count()
	for _, v := range r.viewers {
		if v.chat == nil || !v.chat.receiver {
			continue
		}
		o := v.chat.snapshot()
		if o.eligible(w, v.live()) {
			missing += acked - o.got.andCount(snap.acked)
		}
	}
	return unanswered, missing
}

// drainChat waits, after the window, for chat still in flight, up to
// ChatDrain or until ctx ends.
func (r *run) drainChat(ctx context.Context) {
	if r.chat == nil {
		return
	}
	r.setStage("chat drain")
	deadline := time.NewTimer(r.cfg.ChatDrain)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		unanswered, missing := r.chatPending()
		if unanswered == 0 && missing == 0 {
			return
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			r.log.Warn("chat still in flight after the drain", "unanswered", unanswered, "missing_deliveries", missing)
			return
		case <-ctx.Done():
			return
		}
	}
}

// chatProgress is the chat part of a progress line: replies so far, and
// deliveries of acked messages to the receivers whose channel is open.
func (r *run) chatProgress() string {
	if r.chat == nil {
		return ""
	}
	snap := r.chat.ledger.snapshot()
	sent, acked := 0, snap.acked.count()
	for _, m := range snap.msgs {
		if m.state != chatFailed {
			sent++
		}
	}
	var got, want int
	for _, v := range r.viewers {
		if v.chat == nil || !v.chat.receiver {
			continue
		}
		o := v.chat.snapshot()
		if !o.readyAt.IsZero() && o.endedAt.IsZero() {
			got += o.got.andCount(snap.acked)
			want += acked
		}
	}
	s := fmt.Sprintf("  chat acked %d/%d", acked, sent)
	if want > 0 {
		s += fmt.Sprintf(" delivered so far %.1f%%", 100*float64(got)/float64(want))
	}
	return s
}
