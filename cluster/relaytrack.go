package cluster

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/pion/interceptor"
)

// relayTrack is a relayed track as a feed reads it (media.RemoteTrack): the
// datagrams of one track and publisher stream, in arrival order.
type relayTrack struct {
	id  uint8
	gen uint8
	ch  chan []byte

	mu       sync.Mutex
	deadline time.Time
	wake     chan struct{} // a new deadline
	closed   chan struct{}
	once     sync.Once

	// Loss detection, on the datagram reader's goroutine only.
	last uint16
	have bool
	nack func(track uint8, seqs []uint16)
}

// trackQueue bounds packets waiting for the feed's reader (a video frame
// burst fits many times).
const trackQueue = 512

// maxNACK bounds how many missing packets one gap asks for; a larger gap
// waits for a keyframe instead.
const maxNACK = 64

func newRelayTrack(id, gen uint8, nack func(uint8, []uint16)) *relayTrack {
	return &relayTrack{id: id, gen: gen, ch: make(chan []byte, trackQueue), wake: make(chan struct{}, 1), closed: make(chan struct{}), nack: nack}
}

// push hands pkt (owned) to the reader, asking the parent for any packets
// missing before it.
func (t *relayTrack) push(pkt []byte) {
	seq := rtpSeq(pkt)
	if t.have {
		d := seq - t.last
		if d > 1 && d < 0x8000 {
			if d-1 <= maxNACK {
				miss := make([]uint16, 0, d-1)
				for s := t.last + 1; s != seq; s++ {
					miss = append(miss, s)
				}
				t.nack(t.id, miss)
			}
		}
		if d < 0x8000 {
			t.last = seq
		}
	} else {
		t.last, t.have = seq, true
	}
	select {
	case t.ch <- pkt:
	default: // the reader is behind: drop, as a network would
	}
}

// Read implements media.RemoteTrack.
func (t *relayTrack) Read(b []byte) (int, interceptor.Attributes, error) {
	for {
		t.mu.Lock()
		dl := t.deadline
		t.mu.Unlock()
		var expire <-chan time.Time
		if !dl.IsZero() {
			wait := time.Until(dl)
			if wait <= 0 {
				return 0, nil, os.ErrDeadlineExceeded
			}
			tm := time.NewTimer(wait)
			defer tm.Stop()
			expire = tm.C
		}
		select {
		case p := <-t.ch:
			return copy(b, p), nil, nil
		case <-t.wake:
		case <-expire:
		case <-t.closed:
			return 0, nil, io.EOF
		}
	}
}

// SetReadDeadline implements media.RemoteTrack.
func (t *relayTrack) SetReadDeadline(d time.Time) error {
	t.mu.Lock()
	t.deadline = d
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
	return nil
}

func (t *relayTrack) close() { t.once.Do(func() { close(t.closed) }) }
