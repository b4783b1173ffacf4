package media

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// gcmSealer is SRTP's AEAD AES-GCM transform (RFC 7714) for one down
// track's packets, written for the direct path: the header is marshaled
// straight into the destination's batch and the payload encrypted from the
// packet cache's copy next to it, so a packet is written once, where it is
// sent from. The rollover counter comes from the down track, which knows
// every packet's extended sequence number, rather than being guessed from
// the 16-bit one. One per down track: its nonce buffer is its own.
type gcmSealer struct {
	aead  cipher.AEAD
	salt  [gcmNonceLen]byte
	nonce [gcmNonceLen]byte
}

const (
	gcmNonceLen = 12
	gcmTagLen   = 16
	// RFC 3711 section 4.3.1 key derivation labels.
	labelRTPEncryption = 0x00
	labelRTPSalt       = 0x02
)

// isGCM reports the AEAD profiles gcmSealer implements.
func isGCM(p srtp.ProtectionProfile) bool {
	return p == srtp.ProtectionProfileAeadAes128Gcm || p == srtp.ProtectionProfileAeadAes256Gcm
}

// newGCMSealer derives the RTP session key and salt from the SFU's master
// key and salt.
func newGCMSealer(masterKey, masterSalt []byte) (*gcmSealer, error) {
	if len(masterSalt) != gcmNonceLen {
		return nil, fmt.Errorf("media: srtp gcm: master salt of %d bytes", len(masterSalt))
	}
	key, err := deriveSessionKey(masterKey, masterSalt, labelRTPEncryption, len(masterKey))
	if err != nil {
		return nil, err
	}
	salt, err := deriveSessionKey(masterKey, masterSalt, labelRTPSalt, gcmNonceLen)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("media: srtp gcm: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("media: srtp gcm: %w", err)
	}
	g := &gcmSealer{aead: aead}
	copy(g.salt[:], salt)
	return g, nil
}

// deriveSessionKey is RFC 3711's AES-CM key derivation (section 4.3.3,
// key derivation rate 0): the AES-CM keystream under the master key whose
// IV is the master salt with the label at octet 7, times 2^16.
func deriveSessionKey(masterKey, masterSalt []byte, label byte, n int) ([]byte, error) {
	block, err := aes.NewCipher(masterKey)
	if err != nil {
		return nil, fmt.Errorf("media: srtp key derivation: %w", err)
	}
	var iv, ks [aes.BlockSize]byte
	copy(iv[:aes.BlockSize-2], masterSalt)
	iv[7] ^= label
	out := make([]byte, 0, n+aes.BlockSize)
	for i := uint16(0); len(out) < n; i++ {
		binary.BigEndian.PutUint16(iv[aes.BlockSize-2:], i)
		block.Encrypt(ks[:], iv[:])
		out = append(out, ks[:]...)
	}
	return out[:n], nil
}

// sealedLen is the SRTP length of header h with payload.
func (g *gcmSealer) sealedLen(h *rtp.Header, payload []byte) int {
	return h.MarshalSize() + len(payload) + gcmTagLen
}

// seal writes h and payload as SRTP into dst, exactly sealedLen bytes: the
// header in the clear (the AEAD's associated data), then the encrypted
// payload and its tag.
func (g *gcmSealer) seal(dst []byte, h *rtp.Header, payload []byte, roc uint32) error {
	hl, err := h.MarshalTo(dst)
	if err != nil {
		return fmt.Errorf("media: marshal rtp header: %w", err)
	}
	// RFC 7714 section 8.1: 00 00 | SSRC | ROC | SEQ, XORed with the salt.
	n := &g.nonce
	n[0], n[1] = 0, 0
	binary.BigEndian.PutUint32(n[2:], h.SSRC)
	binary.BigEndian.PutUint32(n[6:], roc)
	binary.BigEndian.PutUint16(n[10:], h.SequenceNumber)
	for i := range n {
		n[i] ^= g.salt[i]
	}
	if out := g.aead.Seal(dst[hl:hl], n[:], payload, dst[:hl]); len(out) != len(dst)-hl || &out[0] != &dst[hl] {
		return fmt.Errorf("media: sealed %d bytes in place of %d", hl+len(out), len(dst))
	}
	return nil
}
