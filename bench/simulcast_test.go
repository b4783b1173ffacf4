package bench

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/media"
	"github.com/talkrelay/talkrelay/media/mediatest"
)

// BenchmarkFanoutSimulcast is BenchmarkFanout with the host sending three
// simulcast layers (about 150k, 500k and 1.5M: one packet of the low layer and
// three of the middle one for every ten of the high one) and every viewer on
// the high layer: the workers also see the other layers' packets and skip them
// per viewer, which is the cost simulcast selection adds. ns/delivery counts
// the delivered high-layer packets only.
func BenchmarkFanoutSimulcast(b *testing.B) {
	for _, n := range viewerCounts {
		b.Run(fmt.Sprintf("viewers=%d", n), func(b *testing.B) {
			bc := batchSocket(b)
			feed := media.NewFeed(media.FeedConfig{TrackID: "video", StreamID: "bench", Codec: media.Codecs()[1], RIDs: []string{"q", "h", "f"}, Flush: bc.Flush})
			defer feed.Close()
			src := newPacedSource(feed, n, b.N)
			low, mid := newSideSource(), newSideSource()
			src.onPacket = func(i uint64) {
				if i%10 == 0 {
					low.next()
				}
				if i%10 == 1 || i%10 == 4 || i%10 == 7 {
					mid.next()
				}
			}
			// Every layer is published before viewers arrive, so they start on the highest.
			feed.AttachLayer(0, low, nil, media.Upstream{})
			feed.AttachLayer(1, mid, nil, media.Upstream{})
			feed.AttachLayer(2, src.gate(), nil, media.Upstream{})
			for i := 0; i < n; i++ {
				d, w := fanoutTrack(b, feed, bc, true)
				ctx := mediatest.BindContext{Codecs: media.Codecs(), TrackSSRC: webrtc.SSRC(1000 + i), Writer: w}
				if _, err := d.Bind(ctx); err != nil {
					b.Fatal(err)
				}
				if cur, _ := d.Layer(); cur != 2 {
					b.Fatalf("viewer starts on layer %d", cur)
				}
				feed.AddDownTrack(d)
			}
			stats := feed.Stats()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0, out0 := cpuTime(b), stats.PacketsOut.Load()
			src.open()
			<-src.done
			waitDelivered(stats, out0+uint64(b.N*n))
			cpu, delivered := cpuTime(b)-cpu0, stats.PacketsOut.Load()-out0
			b.StopTimer()
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(delivered), "ns/delivery")
			b.ReportMetric(float64(stats.QueueDrops.Load()), "drops")
		})
	}
}

// sideSource is a lower layer: it yields a packet each time next is called.
type sideSource struct {
	seq  uint16
	tick chan struct{}
	stop chan struct{}
	once sync.Once
	pkt  []byte
}

func newSideSource() *sideSource {
	return &sideSource{tick: make(chan struct{}, 64), stop: make(chan struct{}), pkt: vp8Packet(0, 0, false)}
}

func (s *sideSource) next() {
	select {
	case s.tick <- struct{}{}:
	default:
	}
}

func (s *sideSource) Read(b []byte) (int, interceptor.Attributes, error) {
	select {
	case <-s.tick:
	case <-s.stop:
		return 0, nil, io.EOF
	}
	n := copy(b, s.pkt)
	binary.BigEndian.PutUint16(b[2:], s.seq)
	binary.BigEndian.PutUint32(b[4:], uint32(s.seq)*3000)
	b[1] = 96 | 0x80
	s.seq++
	return n, nil, nil
}

func (s *sideSource) SetReadDeadline(time.Time) error {
	s.once.Do(func() { close(s.stop) })
	return nil
}
