package cluster

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"

	"github.com/talkrelay/talkrelay/room"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// The relay protocol. An edge opens one QUIC connection per parent node and,
// per room it pulls, one bidirectional control stream carrying JSON lines:
//
//	edge → parent: subscribe {room, sub}, pli, nack {track, seqs}
//	parent → edge: state {state} (first, and whenever the live, its tracks
//	               or its interruption change), muted {kind, muted}, ended {live}
//
// Media flows parent → edge in DATAGRAMs: a 6-byte header (the subscription
// id the edge chose, the track, the publisher stream's generation) then the
// RTP packet exactly as the publisher sent it. Closing the stream
// unsubscribes.

// Control operations.
const (
	opSubscribe = "subscribe"
	opPLI       = "pli"
	opNACK      = "nack"
	opState     = "state"
	opMuted     = "muted"
	opEnded     = "ended"
)

// EndOriginLost is the live_ended reason edges give when the node publishing
// the live is gone and no host came back.
const EndOriginLost = wire.EndOriginLost

type ctrl struct {
	Op    string           `json:"op"`
	Room  string           `json:"room,omitempty"`
	Sub   uint32           `json:"sub,omitempty"`
	Track uint8            `json:"track,omitempty"`
	Seqs  []uint16         `json:"seqs,omitempty"`
	State *room.RelayState `json:"state,omitempty"`
	Kind  int              `json:"kind,omitempty"`
	Muted bool             `json:"muted,omitempty"`
	Live  *wire.Live       `json:"live,omitempty"`
}

// dgramHeader is the datagram header's length.
const dgramHeader = 6

func trackID(kind, layer int) uint8 { return uint8(kind<<2 | layer) }

func splitTrack(t uint8) (kind, layer int) { return int(t >> 2), int(t & 3) }

func putHeader(b []byte, sub uint32, track, gen uint8) {
	binary.BigEndian.PutUint32(b, sub)
	b[4], b[5] = track, gen
}

func parseHeader(b []byte) (sub uint32, track, gen uint8, pkt []byte, ok bool) {
	if len(b) < dgramHeader+12 {
		return 0, 0, 0, nil, false
	}
	return binary.BigEndian.Uint32(b), b[4], b[5], b[dgramHeader:], true
}

// ctrlReader decodes control lines.
type ctrlReader struct{ s *bufio.Scanner }

func newCtrlReader(r io.Reader) *ctrlReader {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	return &ctrlReader{s: s}
}

func (c *ctrlReader) next() (ctrl, error) {
	if !c.s.Scan() {
		if err := c.s.Err(); err != nil {
			return ctrl{}, err
		}
		return ctrl{}, io.EOF
	}
	var m ctrl
	if err := json.Unmarshal(c.s.Bytes(), &m); err != nil {
		return ctrl{}, fmt.Errorf("cluster: bad control message: %w", err)
	}
	return m, nil
}

func writeCtrl(w io.Writer, m ctrl) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// rtpSeq is an RTP packet's sequence number.
func rtpSeq(pkt []byte) uint16 { return binary.BigEndian.Uint16(pkt[2:4]) }
