package media

import (
	"fmt"
	"testing"

	"github.com/pion/rtp"
)

// BenchmarkForward measures the SFU's work per packet per viewer on the hot path:
// cache read, header rewrite, AES-128-GCM SRTP encryption and a UDP send, for a
// 1,200-byte video packet fanned out to N viewers. BenchmarkBareSRTPSend is the
// baseline: the same encryption and send with nothing else.
func BenchmarkForward(b *testing.B) {
	for _, viewers := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("viewers=%d", viewers), func(b *testing.B) {
			f, s := testFeed(vp8Codec())
			for i := 0; i < viewers; i++ {
				bindDown(b, f, s, srtpWriter(b), uint32(100+i))
			}
			pkt := vp8Packet(0, 0, true, 1200)
			ingest(f, s, pkt)
			b.ReportAllocs()
			b.SetBytes(int64(len(pkt) * viewers))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				seq := uint16(i + 1)
				pkt[2], pkt[3] = byte(seq>>8), byte(seq)
				ingest(f, s, pkt)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*viewers), "ns/delivered")
		})
	}
}

func BenchmarkBareSRTPSend(b *testing.B) {
	w := srtpWriter(b)
	pkt := vp8Packet(0, 0, true, 1200)
	var h rtp.Header
	n, _ := h.Unmarshal(pkt)
	payload := pkt[n:]
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for i := 0; i < b.N; i++ {
		h.SequenceNumber = uint16(i)
		if _, err := w.WriteRTP(&h, payload); err != nil {
			b.Fatal(err)
		}
	}
}
