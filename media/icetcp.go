package media

import (
	"fmt"
	"net"
	"slices"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// ICE over TCP (RFC 6544): beside its UDP candidates the engine offers passive
// TCP host candidates on one TCP port, so a client whose UDP is blocked still
// connects directly. pion's TCP mux tells connections apart by the ICE
// username of their first STUN request, as the UDP mux does for datagrams.

const (
	// tcpReadBuffer is the packets a TCP connection may hold for its reader
	// (a host publishing over TCP); unbuffered, the mux would stall on it.
	tcpReadBuffer = 64
	// tcpWriteBuffer bounds what waits for one TCP viewer's socket. Writes
	// never block the fan-out worker: past the bound packets are dropped, as a
	// full UDP socket buffer would, and the viewer NACKs them.
	tcpWriteBuffer = 1 << 20
)

// openTCP opens the ICE-TCP port when the configuration asks for it. One
// listener serves every media address: bound to the address when there is
// one, else to all of them, the candidates then limited to the media
// addresses by the IP filter newAPI sets.
func (e *Engine) openTCP(cfg EngineConfig) error {
	if !cfg.ICETCP {
		return nil
	}
	ip := net.IPv4zero
	if len(e.ips) == 1 {
		ip = e.ips[0]
	}
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: ip, Port: cfg.TCPPort})
	if err != nil {
		return fmt.Errorf("media: listen tcp %s:%d: %w", ip, cfg.TCPPort, err)
	}
	e.tcpPort = ln.Addr().(*net.TCPAddr).Port
	e.tcpMux = ice.NewTCPMuxDefault(ice.TCPMuxParams{
		Listener:        ln,
		Logger:          pionLogger(e.log).NewLogger("tcpmux"),
		ReadBufferSize:  tcpReadBuffer,
		WriteBufferSize: tcpWriteBuffer,
	})
	return nil
}

// setICETCP makes the API offer TCP candidates beside the UDP ones, when the
// engine has a TCP port.
func (e *Engine) setICETCP(se *webrtc.SettingEngine) {
	if e.tcpMux == nil {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
		return
	}
	se.SetICETCPMux(e.tcpMux)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6, webrtc.NetworkTypeTCP4})
	ips := e.ips
	se.SetIPFilter(func(ip net.IP) bool {
		return slices.ContainsFunc(ips, ip.Equal)
	})
}

// TCPPort is the ICE-TCP port, 0 when ICE over TCP is off.
func (e *Engine) TCPPort() int { return e.tcpPort }

// closeTCP closes the ICE-TCP port, if open.
func (e *Engine) closeTCP() error {
	if e.tcpMux == nil {
		return nil
	}
	if err := e.tcpMux.Close(); err != nil {
		return fmt.Errorf("media: close tcp mux: %w", err)
	}
	return nil
}
