package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/media"
	"github.com/talkrelay/talkrelay/media/mediatest"
)

// Each benchmark op is one 1,200-byte video packet delivered to every viewer;
// ns/delivery is the process CPU (all goroutines, user + system) per packet per
// viewer, the figure the SFU competes on.
var viewerCounts = []int{1, 100, 1000}

// BenchmarkFanout runs talkrelay's forwarding path: a feed's reader stores each
// packet once, its workers rewrite it for every down track and encrypt it with
// real AES-GCM SRTP themselves (the direct path), and a BatchConn sends each
// viewer's packets with UDP GSO.
func BenchmarkFanout(b *testing.B) { benchFanout(b, true, true) }

// BenchmarkFanoutNoGSO is the same path sending one datagram per packet: the
// step GSO takes.
func BenchmarkFanoutNoGSO(b *testing.B) { benchFanout(b, false, true) }

// BenchmarkFanoutSRTPSession encrypts through a pion SRTP session per viewer
// instead of the direct path (the lock and write chain a session adds, without
// ICE): the step the direct path takes.
func BenchmarkFanoutSRTPSession(b *testing.B) { benchFanout(b, true, false) }

func benchFanout(b *testing.B, gso, direct bool) {
	for _, n := range viewerCounts {
		b.Run(fmt.Sprintf("viewers=%d", n), func(b *testing.B) {
			bc := batchSocket(b)
			if !gso {
				bc.DisableGSO()
			}
			feed := media.NewFeed(media.FeedConfig{TrackID: "video", StreamID: "bench", Codec: media.Codecs()[1], Flush: bc.Flush})
			defer feed.Close()
			for i := 0; i < n; i++ {
				d, w := fanoutTrack(b, feed, bc, direct)
				ctx := mediatest.BindContext{Codecs: media.Codecs(), TrackSSRC: webrtc.SSRC(1000 + i), Writer: w}
				if _, err := d.Bind(ctx); err != nil {
					b.Fatal(err)
				}
				feed.AddDownTrack(d)
			}
			src := newPacedSource(feed, n, b.N)
			stats := feed.Stats()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0, out0 := cpuTime(b), stats.PacketsOut.Load()
			feed.Attach(src, nil, media.Upstream{})
			<-src.done
			waitDelivered(stats, out0+uint64(b.N*n))
			cpu, delivered := cpuTime(b)-cpu0, stats.PacketsOut.Load()-out0
			b.StopTimer()
			if delivered == 0 {
				b.Fatal("nothing delivered")
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(delivered), "ns/delivery")
			b.ReportMetric(float64(stats.QueueDrops.Load()), "drops")
			if gso && !bc.GSO() {
				b.Log("the kernel refused GSO: figures are for one send per packet")
			}
		})
	}
}

// pacedSource is the publisher's track: it yields packets as fast as the feed's
// workers deliver them, so the benchmark measures work, not queue drops.
type pacedSource struct {
	feed    *media.Feed
	viewers uint64
	limit   uint64
	sent    uint64
	done    chan struct{} // closed when limit packets were read
	stop    chan struct{} // closed by SetReadDeadline: the feed is detaching
	once    sync.Once
	pkt     []byte
	// onPacket, if set, sees each packet's index as it is read (lower
	// simulcast layers follow the high one's pace).
	onPacket func(i uint64)
	opened   chan struct{} // if set by gate, reading waits for open
}

// gate makes the source wait for open before its first packet, so that it can
// be attached before the viewers are added.
func (s *pacedSource) gate() *pacedSource {
	s.opened = make(chan struct{})
	return s
}

func (s *pacedSource) open() { close(s.opened) }

func newPacedSource(f *media.Feed, viewers, limit int) *pacedSource {
	return &pacedSource{feed: f, viewers: uint64(viewers), limit: uint64(limit), done: make(chan struct{}), stop: make(chan struct{}), pkt: vp8Packet(0, 0, true)}
}

func (s *pacedSource) Read(b []byte) (int, interceptor.Attributes, error) {
	if s.opened != nil {
		select {
		case <-s.opened:
		case <-s.stop:
			return 0, nil, io.EOF
		}
	}
	if s.sent == s.limit {
		close(s.done)
		<-s.stop
		return 0, nil, io.EOF
	}
	if s.onPacket != nil {
		s.onPacket(s.sent)
	}
	// Keep at most a few packets in flight per worker queue.
	waitDelivered(s.feed.Stats(), (s.sent-min(s.sent, 8))*s.viewers)
	n := copy(b, s.pkt)
	binary.BigEndian.PutUint16(b[2:], uint16(s.sent))
	binary.BigEndian.PutUint32(b[4:], uint32(s.sent/4*3000))
	b[1] = 96 // payload type; the marker bit ends each 4-packet frame
	if s.sent%4 == 3 {
		b[1] |= 0x80
	}
	b[13] = 0x01 // delta frame (P bit) in the VP8 payload header...
	if s.sent%240 == 0 {
		b[13] = 0 // ...except every 240th packet, a keyframe start
	}
	s.sent++
	return n, nil, nil
}

func (s *pacedSource) SetReadDeadline(time.Time) error {
	s.once.Do(func() { close(s.stop) })
	return nil
}

// waitDelivered waits until the feed has delivered want packets in all, or gives
// up after a second without progress (a packet the feed dropped never arrives;
// ns/delivery counts only what was delivered).
func waitDelivered(stats *media.Stats, want uint64) {
	last, idleSince := stats.PacketsOut.Load(), time.Now()
	for last < want {
		time.Sleep(20 * time.Microsecond)
		if n := stats.PacketsOut.Load(); n != last {
			last, idleSince = n, time.Now()
		} else if time.Since(idleSince) > time.Second {
			return
		}
	}
}

// BenchmarkFanoutPionStatic is the baseline a Go developer would write: one
// webrtc.TrackLocalStaticRTP bound to every viewer, each viewer's stream through
// pion's default interceptors (as a PeerConnection built with
// RegisterDefaultInterceptors has), then the same SRTP and UDP.
func BenchmarkFanoutPionStatic(b *testing.B) {
	for _, n := range viewerCounts {
		b.Run(fmt.Sprintf("viewers=%d", n), func(b *testing.B) {
			track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "bench")
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < n; i++ {
				bindDefaultInterceptors(b, track, webrtc.SSRC(1000+i), srtpStream(b, sink(b)))
			}
			pkts := make([]*rtp.Packet, 240)
			for i := range pkts {
				pkts[i] = &rtp.Packet{}
				if err := pkts[i].Unmarshal(vp8Packet(uint16(i), uint32(i/4*3000), i == 0)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime(b)
			for i := 0; i < b.N; i++ {
				p := pkts[i%len(pkts)]
				p.SequenceNumber = uint16(i)
				if err := track.WriteRTP(p); err != nil {
					b.Fatal(err)
				}
			}
			cpu := cpuTime(b) - cpu0
			b.StopTimer()
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "ns/delivery")
		})
	}
}

// bindDefaultInterceptors binds track to one viewer whose writes pass through a
// fresh chain of pion's default interceptors, built as a PeerConnection would.
func bindDefaultInterceptors(b *testing.B, track *webrtc.TrackLocalStaticRTP, ssrc webrtc.SSRC, out webrtc.TrackLocalWriter) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		b.Fatal(err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		b.Fatal(err)
	}
	chain, err := ir.Build("bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { chain.Close() })
	chain.BindRTCPWriter(interceptor.RTCPWriterFunc(func([]rtcp.Packet, interceptor.Attributes) (int, error) { return 0, nil }))
	info := &interceptor.StreamInfo{
		SSRC: uint32(ssrc), ClockRate: 90000, MimeType: webrtc.MimeTypeVP8, PayloadType: 96,
		RTCPFeedback:        []interceptor.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "transport-cc"}},
		RTPHeaderExtensions: []interceptor.RTPHeaderExtension{{URI: "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01", ID: 5}},
	}
	w := chain.BindLocalStream(info, interceptor.RTPWriterFunc(func(h *rtp.Header, p []byte, _ interceptor.Attributes) (int, error) {
		return out.WriteRTP(h, p)
	}))
	codecs := []webrtc.RTPCodecParameters{{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96}}
	if _, err := track.Bind(mediatest.BindContext{Codecs: codecs, TrackSSRC: ssrc, Writer: interceptedWriter{w}}); err != nil {
		b.Fatal(err)
	}
}

// interceptedWriter is the TrackLocalWriter pion gives a track: writes enter the
// interceptor chain.
type interceptedWriter struct{ w interceptor.RTPWriter }

func (i interceptedWriter) WriteRTP(h *rtp.Header, p []byte) (int, error) {
	return i.w.Write(h, p, interceptor.Attributes{})
}

func (i interceptedWriter) Write(b []byte) (int, error) {
	var p rtp.Packet
	if err := p.Unmarshal(b); err != nil {
		return 0, err
	}
	return i.w.Write(&p.Header, p.Payload, interceptor.Attributes{})
}

// fanoutTrack is one viewer's down track: on the direct path (its bind
// writer then unused) or through a pion SRTP session.
func fanoutTrack(b *testing.B, feed *media.Feed, bc *media.BatchConn, direct bool) (*media.DownTrack, webrtc.TrackLocalWriter) {
	addr := sink(b).AddrPort()
	if !direct {
		return media.NewDownTrack(feed, nil), srtpStreamOver(b, newViewerConn(bc, addr))
	}
	key, salt := make([]byte, 16), make([]byte, 12)
	d := media.NewDirectDownTrack(feed, key, salt, srtp.ProtectionProfileAeadAes128Gcm, bc, addr)
	return d, refuseWriter{}
}

// refuseWriter is a direct down track's pion writer: refusing everything, a
// track that fell back to it delivers nothing, which the benchmark reports.
type refuseWriter struct{}

func (refuseWriter) WriteRTP(*rtp.Header, []byte) (int, error) {
	return 0, errors.New("not the direct path")
}
func (refuseWriter) Write([]byte) (int, error) { return 0, errors.New("not the direct path") }
