package media

import (
	"time"

	"github.com/pion/rtcp"
)

// ReportInterval is how often each down track sends a sender report, which
// browsers need to synchronise a viewer's audio with its video.
const ReportInterval = time.Second

// clockMapping ties a publisher's RTP timestamp to our wall clock, learnt from
// its sender reports.
type clockMapping struct {
	rtp   uint32
	at    int64 // Unix nanoseconds when the report arrived
	ntp   int64 // the publisher's wall clock in the report, Unix nanoseconds
	epoch uint32
}

// serveReports reads the publisher's RTCP for one source until it fails,
// keeping the latest RTP-to-wall-clock mapping of its sender reports.
func (f *Feed) serveReports(l *layer, r RTCPReader, epoch uint32) {
	readRTCP(r, func(p rtcp.Packet) {
		if sr, ok := p.(*rtcp.SenderReport); ok {
			l.clock.Store(&clockMapping{rtp: sr.RTPTime, at: time.Now().UnixNano(), ntp: ntpToUnixNano(sr.NTPTime), epoch: epoch})
		}
	})
}

// ntpToUnixNano converts a 64-bit NTP timestamp to Unix nanoseconds.
func ntpToUnixNano(t uint64) int64 {
	const ntpEpochOffset = 2208988800
	secs := int64(t>>32) - ntpEpochOffset
	frac := int64((t & 0xffffffff) * 1e9 >> 32)
	return secs*1e9 + frac
}

// readRTCP hands each RTCP packet read from r to handle until r fails;
// undecodable compound packets are skipped.
func readRTCP(r RTCPReader, handle func(rtcp.Packet)) {
	buf := make([]byte, 1500)
	for {
		n, _, err := r.Read(buf)
		if err != nil {
			return
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		for _, p := range pkts {
			handle(p)
		}
	}
}

// report sends d's sender report, mapping the publisher's clock through d's
// timestamp offset. Called by d's worker, which owns d's counters.
func (d *DownTrack) report(now time.Time) {
	m := d.feed.layers[d.layer].clock.Load()
	if m == nil || d.rtcpOut == nil || !d.sinceRebase || m.epoch != d.epoch || !d.bound.Load() {
		return
	}
	elapsed := now.UnixNano() - m.at
	ticks := uint32(elapsed * int64(d.feed.codec.ClockRate) / 1e9)
	_ = d.rtcpOut([]rtcp.Packet{&rtcp.SenderReport{
		SSRC:        d.ssrc,
		NTPTime:     ntpTime(now),
		RTPTime:     m.rtp + ticks + d.tsOffset,
		PacketCount: d.packets,
		OctetCount:  d.octets,
	}})
}

// ntpTime converts t to the 64-bit NTP format of RTCP (seconds since 1900, 32.32 fixed point).
func ntpTime(t time.Time) uint64 {
	const ntpEpochOffset = 2208988800
	secs := uint64(t.Unix() + ntpEpochOffset)
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return secs<<32 | frac
}
