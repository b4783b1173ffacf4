package room

import (
	"strings"

	"github.com/pion/sdp/v3"

	"github.com/talkrelay/talkrelay/signal/wire"
)

// checkOffer rejects an offer pion would choke on or that carries nothing we can
// forward, with an error the client can act on.
func checkOffer(raw string) error {
	if strings.TrimSpace(raw) == "" {
		return wire.Errorf(wire.CodeBadSDP, "offer is empty")
	}
	var d sdp.SessionDescription
	if err := d.UnmarshalString(raw); err != nil {
		return wire.Errorf(wire.CodeBadSDP, "offer does not parse: %v", err)
	}
	if len(d.MediaDescriptions) == 0 {
		return wire.Errorf(wire.CodeNoUsableCodec, "offer has no media sections")
	}
	for _, m := range d.MediaDescriptions {
		if usable(m) {
			return nil
		}
	}
	return wire.Errorf(wire.CodeNoUsableCodec, "offer has no Opus, VP8 or H.264 codec")
}

func usable(m *sdp.MediaDescription) bool {
	for _, a := range m.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		_, enc, _ := strings.Cut(a.Value, " ")
		name, _, _ := strings.Cut(enc, "/")
		switch strings.ToUpper(name) {
		case "OPUS":
			return m.MediaName.Media == "audio"
		case "VP8", "H264":
			return m.MediaName.Media == "video"
		}
	}
	return false
}

// sendsVideo reports whether an offer would send video: a video section that is
// not recvonly or inactive and not rejected (port 0).
func sendsVideo(raw string) bool {
	var d sdp.SessionDescription
	if d.UnmarshalString(raw) != nil {
		return false
	}
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media != "video" || m.MediaName.Port.Value == 0 {
			continue
		}
		sending := true
		for _, a := range m.Attributes {
			if a.Key == "recvonly" || a.Key == "inactive" {
				sending = false
			}
		}
		if sending {
			return true
		}
	}
	return false
}

// simulcastRIDs returns the RIDs the offer's media section mid sends as
// simulcast layers, in the order its a=simulcast:send line lists them (lowest
// first, as browsers and SDKs write them), or nil without simulcast.
func simulcastRIDs(raw, mid string) []string {
	var d sdp.SessionDescription
	if d.UnmarshalString(raw) != nil {
		return nil
	}
	for _, m := range d.MediaDescriptions {
		if v, _ := m.Attribute("mid"); v != mid {
			continue
		}
		v, ok := m.Attribute("simulcast")
		if !ok {
			return nil
		}
		dir, list, ok := strings.Cut(strings.TrimSpace(v), " ")
		if !ok || dir != "send" {
			return nil
		}
		var rids []string
		for _, alt := range strings.Split(list, ";") {
			first, _, _ := strings.Cut(alt, ",")
			if rid := strings.TrimPrefix(strings.TrimSpace(first), "~"); rid != "" {
				rids = append(rids, rid)
			}
		}
		return rids
	}
	return nil
}
