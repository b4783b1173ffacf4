package media

import (
	"errors"
	"fmt"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// directWriter is one down track's direct path (see sendLink): its own SRTP
// context for its one SSRC, so no lock is shared with the connection's other
// tracks. It encrypts straight into the destination's batch.
type directWriter struct {
	link *sendLink
	ctx  *srtp.Context
	tag  int        // the profile's authentication tag length
	hdr  rtp.Header // EncryptRTP parses the header again into this
	// plain is the packet being sealed: the serving worker's scratch.
	plain []byte
}

// sealBuffer is the scratch a direct write needs: the clear packet (a header
// and a payload up to the largest datagram the cache keeps), then room for
// the sealed one when it cannot be batched.
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
	tag, err := authTagLen(k.profile)
	if err != nil {
		return nil, err
	}
	ctx, err := srtp.CreateContext(k.key, k.salt, k.profile)
	if err != nil {
		return nil, fmt.Errorf("media: direct srtp context: %w", err)
	}
	return &directWriter{link: l, ctx: ctx, tag: tag}, nil
}

// authTagLen is what SRTP adds to an RTP packet under profile p.
func authTagLen(p srtp.ProtectionProfile) (int, error) {
	if n, err := p.AEADAuthTagLen(); err == nil && n > 0 {
		return n, nil
	}
	n, err := p.AuthTagRTPLen()
	if err != nil {
		return 0, fmt.Errorf("media: srtp profile %v: %w", p, err)
	}
	return n, nil
}

// write encrypts and queues one packet, using scratch (sealBuffer bytes,
// owned by the caller's goroutine); errNoDirectPath when the viewer is not
// reached over UDP through the engine's sockets just now.
func (w *directWriter) write(h *rtp.Header, payload, scratch []byte) error {
	dest := w.link.dest.Load()
	if dest == nil {
		return errNoDirectPath
	}
	if h.MarshalSize()+len(payload) > directPacket {
		return errors.New("media: packet too large for the direct path")
	}
	n, err := h.MarshalTo(scratch[:directPacket])
	if err != nil {
		return fmt.Errorf("media: marshal rtp header: %w", err)
	}
	n += copy(scratch[n:], payload)
	w.plain = scratch[:n]
	defer func() { w.plain = nil }()
	err = dest.conn.writeSealed(dest.addr, n+w.tag, w)
	if !errors.Is(err, errCannotSeal) {
		return err
	}
	// Not batched (GSO off): seal into the scratch's second half and send.
	out, err := w.ctx.EncryptRTP(scratch[directPacket:directPacket], w.plain, &w.hdr)
	if err != nil {
		return fmt.Errorf("media: encrypt rtp: %w", err)
	}
	_, err = dest.conn.WriteToAddrPort(out, dest.addr)
	return err
}

// seal encrypts the packet being written into dst, its exact SRTP length.
func (w *directWriter) seal(dst []byte) error {
	out, err := w.ctx.EncryptRTP(dst[:0], w.plain, &w.hdr)
	if err != nil {
		return fmt.Errorf("media: encrypt rtp: %w", err)
	}
	if len(out) != len(dst) || &out[0] != &dst[0] {
		return fmt.Errorf("media: sealed %d bytes in place of %d", len(out), len(dst))
	}
	return nil
}
