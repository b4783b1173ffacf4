package media

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/media/codec"
	"github.com/talkrelay/talkrelay/media/mediatest"
)

// captured is a packet a down track emitted.
type captured struct {
	seq     uint16
	ts      uint32
	ssrc    uint32
	pt      uint8
	payload string
}

// captureWriter records what a down track writes, to check its rewriting.
type captureWriter struct{ pkts []captured }

func (w *captureWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.pkts = append(w.pkts, captured{h.SequenceNumber, h.Timestamp, h.SSRC, h.PayloadType, string(payload)})
	return len(payload), nil
}

func (w *captureWriter) Write(b []byte) (int, error) { return len(b), nil }

// srtpWriter returns a real SRTP (AES-128-GCM) write stream sending over UDP to a
// sink socket nobody reads: the per-viewer work of the SFU without ICE and DTLS.
func srtpWriter(tb testing.TB) webrtc.TrackLocalWriter {
	tb.Helper()
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	conn, err := net.DialUDP("udp4", nil, sink.LocalAddr().(*net.UDPAddr))
	if err != nil {
		tb.Fatal(err)
	}
	key, salt := make([]byte, 16), make([]byte, 12)
	sess, err := srtp.NewSessionSRTP(conn, &srtp.Config{
		Profile:       srtp.ProtectionProfileAeadAes128Gcm,
		LoggerFactory: pionLogger(discardLogger()),
		Keys:          srtp.SessionKeys{LocalMasterKey: key, LocalMasterSalt: salt, RemoteMasterKey: key, RemoteMasterSalt: salt},
	})
	if err != nil {
		tb.Fatal(err)
	}
	ws, err := sess.OpenWriteStream()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		sess.Close()
		sink.Close()
	})
	return ws
}

// testFeed returns a feed of codec c with no workers running: tests drive a
// shard by hand, exactly as its worker would.
func testFeed(c webrtc.RTPCodecParameters) (*Feed, *shard) {
	return testFeedLayers(c, 1)
}

// testFeedLayers is testFeed with n simulcast layers ("l0", "l1", ...).
func testFeedLayers(c webrtc.RTPCodecParameters, n int) (*Feed, *shard) {
	f := &Feed{
		trackID: "t", streamID: "s", codec: c, codecKind: codec.KindOf(c.MimeType),
		kind: webrtc.RTPCodecTypeVideo, stop: make(chan struct{}),
	}
	if c.ClockRate == 48000 {
		f.kind = webrtc.RTPCodecTypeAudio
	}
	for i := 0; i < n; i++ {
		l := &layer{index: i, rid: fmt.Sprintf("l%d", i), cache: newCacheFor(f.kind)}
		l.lastKeyframeRequest.Store(-int64(KeyframeInterval))
		l.epoch.Store(1)
		f.layers = append(f.layers, l)
	}
	f.useMetrics(nil)
	f.log = discardLogger()
	f.start = time.Now()
	s := newShard(f)
	f.shards = []*shard{s}
	return f, s
}

// bindDown binds a new down track of f to w and adds it to s.
func bindDown(tb testing.TB, f *Feed, s *shard, w webrtc.TrackLocalWriter, ssrc uint32) *DownTrack {
	tb.Helper()
	d := NewDownTrack(f, nil)
	if _, err := d.Bind(mediatest.BindContext{Codecs: Codecs(), TrackSSRC: webrtc.SSRC(ssrc), Writer: w}); err != nil {
		tb.Fatal(err)
	}
	s.handle(ctrlMsg{op: opAdd, track: d})
	return d
}

// vp8Packet builds a VP8 RTP packet that is a whole frame (marker set); key
// marks a keyframe.
func vp8Packet(seq uint16, ts uint32, key bool, size int) []byte {
	payload := make([]byte, size)
	payload[0] = 0x10 // S=1, PID=0
	if !key {
		payload[1] = 0x01 // P bit: delta frame
	}
	p := rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, PayloadType: 100, SequenceNumber: seq, Timestamp: ts, SSRC: 1234}, Payload: payload}
	b, _ := p.Marshal()
	return b
}

// ingest does what the feed's reader does with one packet and hands it to s.
func ingest(f *Feed, s *shard, pkt []byte) packetRef {
	return ingestLayer(f, s, 0, pkt)
}

// ingestLayer is ingest for layer i of a simulcast feed.
func ingestLayer(f *Feed, s *shard, i int, pkt []byte) packetRef {
	l := f.layers[i]
	in := ingress{layer: l, epoch: l.epoch.Load()}
	ref, ok := f.store(&in, pkt)
	if ok && !f.muted.Load() {
		s.forward(ref)
	}
	return ref
}

var errEOF = errors.New("eof")
