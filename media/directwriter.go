package media

import (
	"errors"
	"fmt"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// directWriter is one down track's direct path (see sendLink). With the
// AES-GCM profiles it seals each packet itself (gcmSealer), straight into
// the destination's batch; with another profile it uses a pion SRTP context
// of its own, for its one SSRC, through a scratch buffer.
type directWriter struct {
	link *sendLink
	gcm  *gcmSealer    // the AES-GCM profiles
	ctx  *srtp.Context // any other profile
	tag  int           // ctx's authentication tag length

	// The packet being written, for seal.
	h       *rtp.Header
	payload []byte
	roc     uint32
	plain   []byte     // ctx only: header and payload, in the worker's scratch
	hdr     rtp.Header // ctx only: EncryptRTP parses the header again into this
}

// sealBuffer is the scratch a direct write may need: the clear packet (a
// header and a payload up to the largest datagram the cache keeps), then
// room for the sealed one when it cannot be batched.
const (
	directPacket = 1500 + 64
	sealBuffer   = 2 * directPacket
)

var errNoDirectPath = errors.New("media: no direct path")

// newDirectWriter returns the direct writer once the link has keys, else nil.
func newDirectWriter(l *sendLink) (*directWriter, error) {
	k := l.keys.Load()
	if k == nil {
		return nil, nil
	}
	if isGCM(k.profile) {
		g, err := newGCMSealer(k.key, k.salt)
		if err != nil {
			return nil, err
		}
		return &directWriter{link: l, gcm: g}, nil
	}
	tag, err := k.profile.AuthTagRTPLen()
	if err != nil {
		return nil, fmt.Errorf("media: srtp profile %v: %w", k.profile, err)
	}
	ctx, err := srtp.CreateContext(k.key, k.salt, k.profile)
	if err != nil {
		return nil, fmt.Errorf("media: direct srtp context: %w", err)
	}
	return &directWriter{link: l, ctx: ctx, tag: tag}, nil
}

// write encrypts and queues one packet whose extended sequence number, as
// the down track numbers them, is ext (its high bits give SRTP's rollover
// counter). scratch (sealBuffer bytes) belongs to the caller's goroutine.
// errNoDirectPath: the viewer is not reached over UDP through the engine's
// sockets just now.
func (w *directWriter) write(h *rtp.Header, payload []byte, ext uint64, scratch []byte) error {
	dest := w.link.dest.Load()
	if dest == nil {
		return errNoDirectPath
	}
	if h.MarshalSize()+len(payload) > directPacket {
		return errors.New("media: packet too large for the direct path")
	}
	w.h, w.payload, w.roc = h, payload, rocOf(ext)
	defer w.forget()
	n := 0
	if w.gcm != nil {
		n = w.gcm.sealedLen(h, payload)
	} else {
		m, err := h.MarshalTo(scratch[:directPacket])
		if err != nil {
			return fmt.Errorf("media: marshal rtp header: %w", err)
		}
		m += copy(scratch[m:], payload)
		w.plain = scratch[:m]
		n = m + w.tag
	}
	err := dest.conn.writeSealed(dest.addr, n, w)
	if !errors.Is(err, errCannotSeal) {
		return err
	}
	// Not batched (GSO off): seal into the scratch's second half and send.
	out := scratch[directPacket : directPacket+n]
	if err := w.seal(out); err != nil {
		return err
	}
	_, err = dest.conn.WriteToAddrPort(out, dest.addr)
	return err
}

// rocOf is SRTP's rollover counter of a down track's extended sequence
// number: down tracks number from 2^16 (see NewDownTrack).
func rocOf(ext uint64) uint32 { return uint32(ext>>16) - 1 }

// seal encrypts the packet being written into dst, its exact SRTP length.
func (w *directWriter) seal(dst []byte) error {
	if w.gcm != nil {
		return w.gcm.seal(dst, w.h, w.payload, w.roc)
	}
	out, err := w.ctx.EncryptRTP(dst[:0], w.plain, &w.hdr)
	if err != nil {
		return fmt.Errorf("media: encrypt rtp: %w", err)
	}
	if len(out) != len(dst) || &out[0] != &dst[0] {
		return fmt.Errorf("media: sealed %d bytes in place of %d", len(out), len(dst))
	}
	return nil
}

// forget drops the references to the packet written.
func (w *directWriter) forget() { w.h, w.payload, w.plain = nil, nil, nil }
