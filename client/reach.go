package client

import (
	"strings"

	"github.com/pion/webrtc/v4"
)

// TURN transports Config.TURNTransport may name.
const (
	TURNOverUDP = "udp" // turn: URLs with transport=udp (or none)
	TURNOverTCP = "tcp" // turn: and turns: URLs with transport=tcp
)

// rtcConfiguration is the pion configuration of both peer connections: the
// ICE servers the SFU handed out in joined (those over Config.TURNTransport
// only, when set), and with Config.ForceRelay the relay-only policy.
func (c *Client) rtcConfiguration() webrtc.Configuration {
	var cfg webrtc.Configuration
	for _, s := range c.Joined().ICEServers {
		urls := keepTransport(s.URLs, c.cfg.TURNTransport)
		if len(urls) == 0 {
			continue
		}
		cfg.ICEServers = append(cfg.ICEServers, webrtc.ICEServer{
			URLs: urls, Username: s.Username, Credential: s.Credential,
		})
	}
	if c.cfg.ForceRelay {
		cfg.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	return cfg
}

// keepTransport returns the URLs that reach their server over transport
// ("" keeps them all). STUN URLs are kept: they relay nothing.
func keepTransport(urls []string, transport string) []string {
	if transport == "" {
		return urls
	}
	var out []string
	for _, u := range urls {
		if turnTransport(u) == transport || !strings.HasPrefix(u, "turn") {
			out = append(out, u)
		}
	}
	return out
}

// turnTransport is the transport a TURN URL reaches its server over:
// turns: is TCP (TLS) unless it says otherwise, turn: is UDP unless it says
// otherwise (RFC 7065).
func turnTransport(url string) string {
	_, query, _ := strings.Cut(url, "?")
	for _, kv := range strings.Split(query, "&") {
		if v, ok := strings.CutPrefix(kv, "transport="); ok {
			return strings.ToLower(v)
		}
	}
	if strings.HasPrefix(url, "turns:") {
		return TURNOverTCP
	}
	return TURNOverUDP
}
