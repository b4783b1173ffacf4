package media

import (
	"errors"
	"fmt"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// directWriter is one down track's direct path (see sendLink): its own SRTP
// context for its one SSRC, so no lock is shared with the connection's
// other tracks, and buffers made once.
type directWriter struct {
	link  *sendLink
	ctx   *srtp.Context
	hdr   rtp.Header // EncryptRTP parses the header again into this
	plain []byte
	enc   []byte
}

// directBuffer holds a header and a payload up to the largest datagram the
// cache keeps, and the cipher's tag.
const directBuffer = 1500 + 64

var errNoDirectPath = errors.New("media: no direct path")

// newDirectWriter returns the direct writer once the link has keys, else nil.
func newDirectWriter(l *sendLink) (*directWriter, error) {
	k := l.keys.Load()
	if k == nil {
		return nil, nil
	}
	ctx, err := srtp.CreateContext(k.key, k.salt, k.profile)
	if err != nil {
		return nil, fmt.Errorf("media: direct srtp context: %w", err)
	}
	return &directWriter{link: l, ctx: ctx, plain: make([]byte, directBuffer), enc: make([]byte, 0, directBuffer)}, nil
}

// write encrypts and queues one packet; errNoDirectPath when the viewer is
// not reached over UDP through the engine's sockets just now.
func (w *directWriter) write(h *rtp.Header, payload []byte) error {
	dest := w.link.dest.Load()
	if dest == nil {
		return errNoDirectPath
	}
	n, err := h.MarshalTo(w.plain)
	if err != nil {
		return fmt.Errorf("media: marshal rtp header: %w", err)
	}
	if n+len(payload) > len(w.plain) {
		return errors.New("media: packet too large for the direct path")
	}
	n += copy(w.plain[n:], payload)
	out, err := w.ctx.EncryptRTP(w.enc[:0], w.plain[:n], &w.hdr)
	if err != nil {
		return fmt.Errorf("media: encrypt rtp: %w", err)
	}
	_, err = dest.conn.WriteToAddrPort(out, dest.addr)
	return err
}
