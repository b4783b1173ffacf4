package loadgen

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"text/tabwriter"
)

// WriteJSON writes a report (of any scenario) as one JSON object.
func WriteJSON[R any](w io.Writer, r *R) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("loadgen: write json: %w", err)
	}
	return nil
}

// WriteTable writes the report for people.
func WriteTable(w io.Writer, r *Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, args...)...) }
	title := "live scenario"
	if r.Interrupted {
		title += " (interrupted)"
	}
	row(title, "room %s at %s", r.Room, r.URL)
	row("viewers", "%d connected, %d failed of %d (%d full, %d light)",
		r.ViewersConnected, r.ViewersFailed, r.Viewers, r.FullViewers, r.LightViewers)
	row("window", "%.1f s steady after %.1f s warmup; video %s at %d fps", r.DurationS, r.WarmupS, FormatBitrate(r.Bitrate), r.FPS)
	row("delivered", "%.0f packets/s (%d received of %d expected)", r.DeliveredPPS, r.PacketsReceived, r.PacketsExpected)
	row("loss", "%.4f%% (%d lost, %d duplicate, %d late)", r.LossRatio*100, r.PacketsLost, r.PacketsDuplicate, r.PacketsLate)
	row("SFU CPU", "%s", sfuCPU(r.SFUCPUUsPerPacket, r.SFUCPUSeconds, r.SFUCPUNote))
	row("loadgen CPU", "%.2f s", r.LoadgenCPUSeconds)
	row("", "p50\tp95\tp99\tn")
	dist := func(name string, p *Percentiles) {
		if p == nil {
			row(name, "-\t-\t-\t0")
			return
		}
		row(name, "%.1f\t%.1f\t%.1f\t%d", p.P50, p.P95, p.P99, p.N)
	}
	dist("join ms", r.JoinMs)
	dist("first keyframe ms", r.FirstKeyframeMs)
	dist("latency ms (full)", r.LatencyMs)
	dist("jitter ms audio", r.JitterAudioMs)
	dist("jitter ms video", r.JitterVideoMs)
	if r.ChatRejected != nil { // chat measured
		dist("chat latency ms", r.ChatLatencyMs)
		dist("chat ack ms", r.ChatAckMs)
	}
	for _, c := range chatRows(r) {
		row(c[0], "%s", c[1])
	}
	for _, f := range r.Failures {
		row("failed", "%d× %s", f.Count, f.Reason)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("loadgen: write table: %w", err)
	}
	return nil
}

// chatRows sum up chat: the note when it was not measured, else what was
// sent and how much of it arrived.
func chatRows(r *Report) [][2]string {
	if r.ChatRejected == nil {
		return [][2]string{{"chat", r.ChatNote}}
	}
	sent := fmt.Sprintf("%d chatters at %g/s: %d sent, %d acked, %d rejected", r.Chatters, r.ChatRate, r.ChatSent, r.ChatAcked, rejected(r))
	for _, code := range slices.Sorted(maps.Keys(r.ChatRejected)) {
		sent += fmt.Sprintf(" (%s %d)", code, r.ChatRejected[code])
	}
	if r.ChatUnanswered > 0 || r.ChatSendFailed > 0 {
		sent += fmt.Sprintf(", %d unanswered, %d not sent", r.ChatUnanswered, r.ChatSendFailed)
	}
	delivered := r.ChatNote
	if r.ChatDeliveryRatio != nil {
		delivered = fmt.Sprintf("%.4f%% (%d of %d to %d receivers connected throughout)",
			*r.ChatDeliveryRatio*100, r.ChatDelivered, r.ChatExpected, r.ChatReceivers)
	}
	if r.ChatGapMessages > 0 || r.ChatDuplicates > 0 {
		delivered += fmt.Sprintf("; %d skipped by the server, %d duplicates", r.ChatGapMessages, r.ChatDuplicates)
	}
	if r.ChatDroppedLocally > 0 {
		delivered += fmt.Sprintf("; %d frames dropped by this generator (too slow to read)", r.ChatDroppedLocally)
	}
	return [][2]string{{"chat", sent}, {"chat delivered", delivered}}
}

func rejected(r *Report) int {
	n := 0
	for _, c := range r.ChatRejected {
		n += c
	}
	return n
}

// sfuCPU says what the SFU's CPU per delivered packet came to, or why it is
// unknown.
func sfuCPU(usPerPacket, seconds *float64, note string) string {
	switch {
	case usPerPacket != nil && seconds != nil:
		return fmt.Sprintf("%.2f µs per delivered packet (%.2f s)", *usPerPacket, *seconds)
	case seconds != nil:
		return fmt.Sprintf("%.2f s, no packets delivered", *seconds)
	}
	return "not measured: " + note
}

// WriteCSV writes one row per viewer.
func WriteCSV(w io.Writer, rows []ViewerResult) error {
	cw := csv.NewWriter(w)
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	b := strconv.FormatBool
	_ = cw.Write([]string{"identity", "full", "joined", "connected", "join_ms", "first_keyframe_ms",
		"expected", "received", "lost", "duplicates", "late", "loss_ratio",
		"jitter_audio_ms", "jitter_video_ms", "latency_p50_ms", "chat_received", "chat_latency_p50_ms", "error"})
	for _, v := range rows {
		key := ""
		if v.FirstKeyframeMs >= 0 {
			key = f(v.FirstKeyframeMs)
		}
		chatN, chatMs := "", ""
		if v.ChatReceived >= 0 {
			chatN, chatMs = strconv.Itoa(v.ChatReceived), f(v.ChatLatencyP50Ms)
		}
		_ = cw.Write([]string{v.Identity, b(v.Full), b(v.Joined), b(v.Connected), f(v.JoinMs), key,
			u(v.Expected), u(v.Received), u(v.Lost), u(v.Duplicates), u(v.Late), strconv.FormatFloat(v.LossRatio, 'g', 6, 64),
			f(v.JitterAudioMs), f(v.JitterVideoMs), f(v.LatencyP50Ms), chatN, chatMs, v.Err})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("loadgen: write csv: %w", err)
	}
	return nil
}
