package media

import (
	"fmt"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Payload types the SFU offers. Browsers map theirs onto these in negotiation.
const (
	PayloadTypeOpus = 111
	PayloadTypeVP8  = 96
	PayloadTypeH264 = 102
)

var videoFeedback = []webrtc.RTCPFeedback{
	{Type: "nack"},
	{Type: "nack", Parameter: "pli"},
	{Type: "ccm", Parameter: "fir"},
}

// Codecs lists what hosts may publish and viewers receive: Opus audio, VP8 and
// constrained-baseline H.264 video (the profile every browser decodes).
func Codecs() []webrtc.RTPCodecParameters {
	return []webrtc.RTPCodecParameters{
		{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
				SDPFmtpLine: "minptime=10;useinbandfec=1",
			},
			PayloadType: PayloadTypeOpus,
		},
		{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: videoFeedback,
			},
			PayloadType: PayloadTypeVP8,
		},
		{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeH264, ClockRate: 90000, RTCPFeedback: videoFeedback,
				SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
			},
			PayloadType: PayloadTypeH264,
		},
	}
}

// RegisterCodecs registers Codecs with m.
func RegisterCodecs(m *webrtc.MediaEngine) error {
	for _, c := range Codecs() {
		kind := webrtc.RTPCodecTypeVideo
		if c.MimeType == webrtc.MimeTypeOpus {
			kind = webrtc.RTPCodecTypeAudio
		}
		if err := m.RegisterCodec(c, kind); err != nil {
			return fmt.Errorf("media: register %s: %w", c.MimeType, err)
		}
	}
	return nil
}

// RegisterSimulcastExtensions registers the RTP header extensions simulcast
// needs (MID, RID, repaired RID) for video, on the side that sends or receives
// the layers.
func RegisterSimulcastExtensions(m *webrtc.MediaEngine) error {
	for _, uri := range []string{sdp.SDESMidURI, sdp.SDESRTPStreamIDURI, sdp.SDESRepairRTPStreamIDURI} {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: uri}, webrtc.RTPCodecTypeVideo); err != nil {
			return fmt.Errorf("media: register %s: %w", uri, err)
		}
	}
	return nil
}
