// Package mediatest helps tests and benchmarks drive down tracks without a peer
// connection.
package mediatest

import (
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// BindContext is the webrtc.TrackLocalContext a peer connection hands a track at
// Bind: the negotiated codecs, the track's SSRC and where its packets go.
type BindContext struct {
	Codecs    []webrtc.RTPCodecParameters
	TrackSSRC webrtc.SSRC
	Writer    webrtc.TrackLocalWriter
}

// CodecParameters implements webrtc.TrackLocalContext.
func (c BindContext) CodecParameters() []webrtc.RTPCodecParameters { return c.Codecs }

// HeaderExtensions implements webrtc.TrackLocalContext.
func (c BindContext) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter { return nil }

// SSRC implements webrtc.TrackLocalContext.
func (c BindContext) SSRC() webrtc.SSRC { return c.TrackSSRC }

// SSRCRetransmission implements webrtc.TrackLocalContext.
func (c BindContext) SSRCRetransmission() webrtc.SSRC { return 0 }

// SSRCForwardErrorCorrection implements webrtc.TrackLocalContext.
func (c BindContext) SSRCForwardErrorCorrection() webrtc.SSRC { return 0 }

// WriteStream implements webrtc.TrackLocalContext.
func (c BindContext) WriteStream() webrtc.TrackLocalWriter { return c.Writer }

// ID implements webrtc.TrackLocalContext.
func (c BindContext) ID() string { return "test" }

// RTCPReader implements webrtc.TrackLocalContext.
func (c BindContext) RTCPReader() interceptor.RTCPReader { return nil }
