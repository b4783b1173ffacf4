package media

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"syscall"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/metrics"
)

// EngineConfig says where media flows.
type EngineConfig struct {
	// UDPPort is the one UDP port all media uses (ICE UDP mux). 0 picks a free port.
	UDPPort int
	// ListenIP binds the media socket to one address (tests use 127.0.0.1). Empty
	// listens on every interface.
	ListenIP string
	// NodeIPs, when set, are the addresses advertised to clients instead of the
	// interfaces' own (a VM behind 1:1 NAT): each a public address standing for
	// every local one, or "public/local" for one local address.
	NodeIPs []string
	// Interfaces, when set, limits media to these network interfaces'
	// addresses (ignored with ListenIP).
	Interfaces []string
	// ICETCP offers ICE over TCP on TCPPort beside UDP (0 picks a free port),
	// for clients whose UDP is blocked.
	ICETCP  bool
	TCPPort int
	// IncludeLoopback offers 127.0.0.1 candidates (dev mode and tests on one machine).
	IncludeLoopback bool
	// DisableGSO sends one datagram per packet instead of UDP GSO batches.
	DisableGSO bool
	Logger     *slog.Logger
	// Metrics receives the feeds' latency observations; nil records into
	// unregistered metrics.
	Metrics *metrics.SFU
}

// Engine builds the peer connections of the SFU: lean publisher connections that
// receive a host's media and leaner subscriber connections that carry down tracks.
// Both share one UDP port.
type Engine struct {
	pubAPI *webrtc.API
	subAPI *webrtc.API
	// subSettings and subMedia make each subscriber connection's API: its
	// DTLS hooks are its own (see sendLink).
	subSettings webrtc.SettingEngine
	subMedia    *webrtc.MediaEngine
	links       sync.Map // *webrtc.PeerConnection → *sendLink, until DTLS closes
	mux         ice.UDPMux
	conns       []*BatchConn
	port        int
	ips         []net.IP    // the media sockets' addresses
	addrs       []MediaAddr // the same, with what clients are told
	tcpMux      *ice.TCPMuxDefault
	tcpPort     int
	log         *slog.Logger
	met         *metrics.SFU
	feeds       feedRegistry
}

// socketBuffer is the UDP buffer size we ask for: a keyframe burst to many viewers
// is hundreds of kilobytes, beyond the kernel's 208 KiB default.
const socketBuffer = 8 << 20

// NewEngine opens the media port and prepares the two pion APIs.
func NewEngine(cfg EngineConfig) (*Engine, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{log: log, met: cfg.Metrics}
	if err := e.openMux(cfg); err != nil {
		return nil, err
	}
	if err := e.openTCP(cfg); err != nil {
		e.mux.Close()
		return nil, err
	}
	pub, _, _, err := e.newAPI(cfg, true)
	if err != nil {
		e.Close()
		return nil, err
	}
	sub, se, me, err := e.newAPI(cfg, false)
	if err != nil {
		e.Close()
		return nil, err
	}
	e.pubAPI, e.subAPI, e.subSettings, e.subMedia = pub, sub, se, me
	return e, nil
}

func (e *Engine) openMux(cfg EngineConfig) error {
	plog := pionLogger(e.log).NewLogger("udpmux")
	ips, err := listenIPs(cfg)
	if err != nil {
		return err
	}
	if e.addrs, err = mapAddrs(ips, cfg.NodeIPs); err != nil {
		return err
	}
	e.ips = ips
	var muxes []ice.UDPMux
	for _, ip := range ips {
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: ip, Port: cfg.UDPPort})
		if err != nil {
			for _, c := range e.conns {
				c.Close()
			}
			return fmt.Errorf("media: listen udp %s:%d: %w", ip, cfg.UDPPort, err)
		}
		growBuffers(conn, e.log)
		if e.port == 0 {
			e.port = conn.LocalAddr().(*net.UDPAddr).Port
		}
		bc := NewBatchConn(conn, e.log)
		if cfg.DisableGSO {
			bc.DisableGSO()
		}
		e.conns = append(e.conns, bc)
		muxes = append(muxes, ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: bc, Logger: plog}))
	}
	if len(muxes) == 1 {
		e.mux = muxes[0]
	} else {
		e.mux = ice.NewMultiUDPMuxDefault(muxes...)
	}
	return nil
}

// growBuffers raises the socket buffers, using the privileged FORCE options when
// allowed so that the host's rmem_max does not silently cap them.
func growBuffers(conn *net.UDPConn, log *slog.Logger) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		for _, opt := range [][2]int{{syscall.SO_RCVBUFFORCE, syscall.SO_RCVBUF}, {syscall.SO_SNDBUFFORCE, syscall.SO_SNDBUF}} {
			if syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, opt[0], socketBuffer) != nil {
				if err := syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, opt[1], socketBuffer); err != nil {
					log.Warn("media: cannot grow udp socket buffer", "err", err)
				}
			}
		}
	})
}

// newAPI registers only what each side needs: every interceptor costs CPU per packet.
// Publisher connections generate NACKs, receiver reports and transport-wide
// congestion control feedback toward the host;
// subscriber connections run no interceptor at all: NACKs, PLIs and reports toward
// viewers are handled by the down tracks from the shared packet cache.
func (e *Engine) newAPI(cfg EngineConfig, publisher bool) (*webrtc.API, webrtc.SettingEngine, *webrtc.MediaEngine, error) {
	fail := func(err error) (*webrtc.API, webrtc.SettingEngine, *webrtc.MediaEngine, error) {
		return nil, webrtc.SettingEngine{}, nil, err
	}
	me := &webrtc.MediaEngine{}
	if err := RegisterCodecs(me); err != nil {
		return fail(err)
	}
	// Receivers may send REMB: a call relays it to the sender (Upstream.Estimate),
	// and senders must know we may send it.
	me.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBGoogREMB}, webrtc.RTPCodecTypeVideo)
	ir := &interceptor.Registry{}
	if publisher {
		// Simulcast: the layers of one track are told apart by RID.
		if err := RegisterSimulcastExtensions(me); err != nil {
			return fail(err)
		}
		// Each audio packet says how loud it is: group rooms pick their
		// active speakers from it.
		if err := RegisterAudioLevelExtension(me); err != nil {
			return fail(err)
		}
		// Transport-wide congestion control feedback lets each publisher's own
		// estimator (browsers' GCC) fit its uplink.
		if err := webrtc.ConfigureTWCCSender(me, ir); err != nil {
			return fail(fmt.Errorf("media: twcc feedback: %w", err))
		}
		gen, err := nack.NewGeneratorInterceptor()
		if err != nil {
			return fail(fmt.Errorf("media: nack generator: %w", err))
		}
		rr, err := report.NewReceiverInterceptor()
		if err != nil {
			return fail(fmt.Errorf("media: receiver reports: %w", err))
		}
		ir.Add(gen)
		ir.Add(rr)
	}

	se := webrtc.SettingEngine{LoggerFactory: pionLogger(e.log)}
	se.SetICEUDPMux(e.mux)
	e.setICETCP(&se)
	se.SetIncludeLoopbackCandidate(cfg.IncludeLoopback)
	if len(cfg.NodeIPs) > 0 {
		se.SetNAT1To1IPs(cfg.NodeIPs, webrtc.ICECandidateTypeHost)
	}
	// The DTLS server picks the SRTP profile: we take that role and put AES-GCM
	// first, which encrypts about six times faster than AES-CM + HMAC-SHA1.
	if err := se.SetAnsweringDTLSRole(webrtc.DTLSRoleServer); err != nil {
		return fail(fmt.Errorf("media: dtls role: %w", err))
	}
	se.SetSRTPProtectionProfiles(
		dtls.SRTP_AEAD_AES_128_GCM,
		dtls.SRTP_AEAD_AES_256_GCM,
		dtls.SRTP_AES128_CM_HMAC_SHA1_80,
	)
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), se, me, nil
}

// Port is the UDP port media flows on.
func (e *Engine) Port() int { return e.port }

// NewFeed returns a feed whose workers send through the engine's batching
// sockets (UDP GSO): use it rather than NewFeed for feeds viewers receive.
func (e *Engine) NewFeed(cfg FeedConfig) *Feed {
	cfg.Flush = e.flush
	if cfg.Metrics == nil {
		cfg.Metrics = e.met
	}
	cfg.onClose = e.feeds.retire
	f := NewFeed(cfg)
	e.feeds.add(f)
	return f
}

// MediaCounters sums the forwarding counters of the engine's feeds, open and
// closed, per kind. It is what a metrics scrape reads.
func (e *Engine) MediaCounters() (audio, video metrics.MediaCounters) {
	return e.feeds.totals()
}

// flush sends what the feeds' workers batched.
func (e *Engine) flush() {
	for _, c := range e.conns {
		c.Flush()
	}
}

// NewPublisherPC returns a connection for receiving a host's media.
func (e *Engine) NewPublisherPC() (*webrtc.PeerConnection, error) {
	pc, err := e.pubAPI.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("media: new publisher connection: %w", err)
	}
	return pc, nil
}

// NewSubscriberPC returns a connection for sending down tracks to a
// participant. Down tracks made for it with NewDownTrack write their SRTP
// straight to the media socket when they can (see sendLink).
func (e *Engine) NewSubscriberPC() (*webrtc.PeerConnection, error) {
	link := &sendLink{engine: e}
	se := e.subSettings
	se.SetDTLSKeyLogWriter(link)
	se.SetDTLSServerHelloMessageHook(link.serverHello)
	// An explicit empty registry: without one pion adds its default
	// interceptors, and registers their feedback in the shared media engine.
	api := webrtc.NewAPI(webrtc.WithMediaEngine(e.subMedia), webrtc.WithSettingEngine(se),
		webrtc.WithInterceptorRegistry(&interceptor.Registry{}))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("media: new subscriber connection: %w", err)
	}
	e.links.Store(pc, link)
	link.watch(pc, func() { e.links.Delete(pc) })
	return pc, nil
}

// NewDownTrack returns a down track of f for the viewer on pc (a connection
// from NewSubscriberPC), sending its reports through pc.
func (e *Engine) NewDownTrack(f *Feed, pc *webrtc.PeerConnection) *DownTrack {
	d := NewDownTrack(f, pc.WriteRTCP)
	if l, ok := e.links.Load(pc); ok {
		d.link = l.(*sendLink)
	}
	return d
}

// Close releases the media ports. Peer connections must be closed first.
func (e *Engine) Close() error {
	tcpErr := e.closeTCP()
	if err := e.mux.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("media: close udp mux: %w", err)
	}
	return tcpErr
}
