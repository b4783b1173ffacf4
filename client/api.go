package client

import (
	"fmt"
	"net"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/transport/v4"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/media"
)

// APIOptions shapes the pion API a client uses. One API may be shared by many
// clients (the load generator does so); its options then apply to all of them.
type APIOptions struct {
	// IncludeLoopback gathers 127.0.0.1 candidates, which pion skips by default;
	// tests that run the SFU and clients on one machine need it.
	IncludeLoopback bool
	// DisableNACK skips the NACK generator on received tracks. The load generator
	// sets it to save a goroutine and a buffer per simulated viewer.
	DisableNACK bool
	// UDPPortMin and UDPPortMax, when both are set, bound the local UDP ports
	// ICE uses, for firewalled test hosts.
	UDPPortMin, UDPPortMax uint16
	// UDPMux, if set, carries the ICE traffic of every peer connection made
	// with this API over one shared socket, so thousands of simulated clients
	// do not each need their own ports. It overrides the port range.
	UDPMux ice.UDPMux
	// ForceTCP gathers TCP candidates only: the client reaches the SFU over
	// ICE-TCP, as one whose UDP is blocked would. It overrides NetworkTypes.
	// (To relay over TCP instead, use Config.ForceRelay with TURNTransport
	// "tcp": relay candidates need the UDP network types.)
	ForceTCP bool
	// IPFilter, if set, keeps only the local addresses it accepts for
	// candidates (a multi-homed host, a test network namespace).
	IPFilter func(net.IP) bool
	// NetworkTypes restricts candidate gathering (for example to UDP4 only);
	// nil keeps pion's default.
	NetworkTypes []webrtc.NetworkType
	// Net, if set, is the network pion uses (see package netsim, which imposes
	// loss and rate caps on what the client receives).
	Net transport.Net
}

// ICE timeouts of the client's connections (see NewAPI).
const (
	iceDisconnectedAfter = 3 * time.Second
	iceFailedAfter       = 25 * time.Second
	iceKeepalive         = 2 * time.Second
)

// NewAPI builds the pion API a client uses: Opus, VP8 and H.264 at the SFU's
// payload types, with NACK, PLI and FIR feedback on video, and only the
// interceptors a receiver needs (NACK generator and receiver reports), so
// that simulating thousands of clients stays cheap.
func NewAPI(opts APIOptions) (*webrtc.API, error) {
	me, err := newMediaEngine()
	if err != nil {
		return nil, err
	}

	ir := &interceptor.Registry{}
	// Transport-wide sequence numbers on what we send, so the SFU's congestion
	// feedback (TWCC) can describe our uplink.
	if err := webrtc.ConfigureTWCCHeaderExtensionSender(me, ir); err != nil {
		return nil, fmt.Errorf("client: twcc header extension: %w", err)
	}
	if !opts.DisableNACK {
		gen, err := nack.NewGeneratorInterceptor()
		if err != nil {
			return nil, fmt.Errorf("client: nack generator: %w", err)
		}
		ir.Add(gen)
	}
	rr, err := report.NewReceiverInterceptor()
	if err != nil {
		return nil, fmt.Errorf("client: receiver reports: %w", err)
	}
	ir.Add(rr)
	// Publishing side: answer the SFU's NACKs for packets it lost on the way in,
	// and send sender reports, which the SFU relays so viewers can lip-sync.
	// Both act only on tracks a client sends, so viewers pay nothing for them.
	resp, err := nack.NewResponderInterceptor()
	if err != nil {
		return nil, fmt.Errorf("client: nack responder: %w", err)
	}
	ir.Add(resp)
	sr, err := report.NewSenderInterceptor()
	if err != nil {
		return nil, fmt.Errorf("client: sender reports: %w", err)
	}
	ir.Add(sr)

	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(opts.IncludeLoopback)
	// A connection that hears nothing for 3 s (media, or the 2 s consent
	// checks' answers) is down: the client then asks whether its node is
	// still there (liveness.go). pion's default, 5 s, is the rest of the
	// 5 s a failover may take.
	se.SetICETimeouts(iceDisconnectedAfter, iceFailedAfter, iceKeepalive)
	// The SFU hands out plain IP candidates; skipping mDNS saves a multicast
	// socket per peer connection.
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if opts.NetworkTypes != nil {
		se.SetNetworkTypes(opts.NetworkTypes)
	}
	if opts.ForceTCP {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
	}
	if opts.IPFilter != nil {
		se.SetIPFilter(opts.IPFilter)
	}
	if opts.Net != nil {
		se.SetNet(opts.Net)
	}
	switch {
	case opts.UDPMux != nil:
		se.SetICEUDPMux(opts.UDPMux)
	case opts.UDPPortMin != 0 && opts.UDPPortMax != 0:
		if err := se.SetEphemeralUDPPortRange(opts.UDPPortMin, opts.UDPPortMax); err != nil {
			return nil, fmt.Errorf("client: udp port range: %w", err)
		}
	}

	return webrtc.NewAPI(
		webrtc.WithMediaEngine(me),
		webrtc.WithInterceptorRegistry(ir),
		webrtc.WithSettingEngine(se),
	), nil
}

// newMediaEngine registers the three codecs the SFU forwards and nothing
// else, so negotiation cannot settle on a codec the SFU would refuse, and
// the header extensions the SFU reads (simulcast, audio level).
func newMediaEngine() (*webrtc.MediaEngine, error) {
	me := &webrtc.MediaEngine{}
	if err := media.RegisterCodecs(me); err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	if err := media.RegisterSimulcastExtensions(me); err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	// Audio we send says how loud it is (see AudioLevelExtensionID): group
	// rooms pick their active speakers from it.
	if err := media.RegisterAudioLevelExtension(me); err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return me, nil
}
