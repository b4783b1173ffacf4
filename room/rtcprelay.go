package room

import (
	"io"
	"sync"

	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/media"
)

// rtcpRelay reads a sender's RTCP and hands it to the down track the sender
// carries now. A WHEP transceiver's track is replaced in place, so the sender
// outlives its down tracks; one reader per sender keeps two down tracks from
// splitting its feedback between them.
type rtcpRelay struct {
	mu      sync.Mutex
	cur     *rtcpPipe
	stopped bool // the sender stopped: nothing more will come
}

// rtcpQueue bounds the RTCP packets waiting for a down track's reader; past it
// packets are dropped (feedback is periodic and repeated).
const rtcpQueue = 32

// run reads sender until it stops, then ends the current down track's reader.
func (r *rtcpRelay) run(sender *webrtc.RTPSender) {
	buf := make([]byte, 1500)
	for {
		n, _, err := sender.Read(buf)
		if err != nil {
			r.mu.Lock()
			r.stopped = true
			r.mu.Unlock()
			r.setTarget(nil)
			return
		}
		r.mu.Lock()
		if p := r.cur; p != nil {
			select {
			case p.ch <- append([]byte(nil), buf[:n]...):
			default:
			}
		}
		r.mu.Unlock()
	}
}

// setTarget makes d (nil: nobody) receive the sender's RTCP from now on.
func (r *rtcpRelay) setTarget(d *media.DownTrack) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur != nil {
		close(r.cur.done)
		r.cur = nil
	}
	if d != nil && !r.stopped {
		r.cur = &rtcpPipe{ch: make(chan []byte, rtcpQueue), done: make(chan struct{})}
		// Feedback reader: owned by the down track, ends when the relay moves on.
		go d.ServeRTCP(r.cur)
	}
}

// rtcpPipe is one down track's share of a relay: a media.RTCPReader.
type rtcpPipe struct {
	ch   chan []byte
	done chan struct{}
}

func (p *rtcpPipe) Read(b []byte) (int, interceptor.Attributes, error) {
	select {
	case pkt := <-p.ch:
		return copy(b, pkt), nil, nil
	case <-p.done:
		return 0, nil, io.EOF
	}
}
