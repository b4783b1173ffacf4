package cluster

import (
	"context"
	"encoding/binary"
	"log/slog"
	"net"
	"runtime/pprof"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/talkrelay/talkrelay/room"
)

// BenchmarkRelayPacket measures what relaying one RTP packet to one edge
// costs: an origin's relay server and an edge's relay client in this process,
// over real QUIC on loopback, 1,200-byte packets. The path is the
// production one from the tap on the publisher's track (relaySink.Packet)
// through the connection's datagram sender, QUIC, the edge's datagram reader
// and the pull to the relayed track a feed reads (relayTrack.Read).
//
// cpu-ns/pkt is the process's CPU time (user + system, both sides and
// QUIC's own goroutines) over the packets read at the edge; allocs/op counts
// both sides' allocations per packet. Packets are sent with at most window
// in flight, so the queues never overflow; lost-pkts counts any lost
// anyway. Goroutines carry a pprof label side=origin or side=edge, so a CPU
// profile splits the cost between the two (go tool pprof -tagfocus).
func BenchmarkRelayPacket(b *testing.B) {
	const (
		pktSize = 1200
		window  = 64
		sub     = 7
		kind    = room.RelayVideo
		gen     = 1
	)
	srvTLS, cliTLS, err := clusterTLS("benchmark cluster secret 0123456789")
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The origin: a relay server whose one connection's sender is fed by a sink.
	var srv *relayServer
	out := make(chan []byte, sendQueue)
	accepted := make(chan struct{})
	pprof.Do(ctx, pprof.Labels("side", "origin"), func(ctx context.Context) {
		udp, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		tr := &quic.Transport{Conn: udp}
		b.Cleanup(func() { _ = tr.Close() })
		ln, err := tr.Listen(srvTLS, quicConfig())
		if err != nil {
			b.Fatal(err)
		}
		srv = &relayServer{ln: ln, log: log, children: map[string]int{}}
		// Acceptor and sender: owned by the benchmark, end with ctx or the transport.
		go func() {
			conn, err := ln.Accept(ctx)
			if err != nil {
				return
			}
			close(accepted)
			srv.sendDatagrams(ctx, conn, out)
		}()
	})
	sink := &relaySink{sub: sub, out: out, dropped: &srv.dropped}

	// The edge: a relay client with one pull of one track, read as a feed does.
	var delivered atomic.Int64
	progress := make(chan struct{}, 1)
	pprof.Do(ctx, pprof.Labels("side", "edge"), func(ctx context.Context) {
		client := &relayClient{tls: cliTLS, log: log, conns: map[string]*edgeConn{}}
		b.Cleanup(client.close)
		ec, err := client.connect(ctx, srv.ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		p := &pull{ctrlOut: make(chan ctrl, 64), rl: &room.RemoteLive{}, tracks: map[uint8]*relayTrack{}}
		t := newRelayTrack(trackID(kind, 0), gen, p.nack)
		p.tracks[t.id] = t
		ec.mu.Lock()
		ec.subs[sub] = p
		ec.mu.Unlock()
		b.Cleanup(t.close)
		// Feed reader stand-in: owned by the benchmark, ends when the track closes.
		go func() {
			buf := make([]byte, 1500)
			for {
				if _, _, err := t.Read(buf); err != nil {
					return
				}
				delivered.Add(1)
				select {
				case progress <- struct{}{}:
				default:
				}
			}
		}()
	})
	select {
	case <-accepted:
	case <-time.After(5 * time.Second):
		b.Fatal("the edge never connected")
	}

	pkt := make([]byte, pktSize)
	pkt[0] = 0x80
	pkt[1] = 96
	send := func(seq uint16) {
		binary.BigEndian.PutUint16(pkt[2:4], seq)
		binary.BigEndian.PutUint32(pkt[4:8], uint32(seq)*3000)
		sink.Packet(kind, 0, gen, pkt)
	}
	// Warm up: the connection's congestion window opens, buffers settle.
	var seq uint16
	var lost int64
	stall := time.NewTimer(time.Hour) // one timer: the harness allocates nothing per packet
	defer stall.Stop()
	// wait waits for progress; after 100 ms without any, the i packets sent
	// but not delivered are lost: no use waiting for them.
	wait := func(base int64, i int) {
		stall.Reset(100 * time.Millisecond)
		select {
		case <-progress:
		case <-stall.C:
			lost = int64(i) - (delivered.Load() - base)
		}
		stall.Stop()
	}
	run := func(n int) {
		base := delivered.Load()
		for i := range n {
			for int64(i)-(delivered.Load()-base)-lost >= window {
				wait(base, i)
			}
			send(seq)
			seq++
		}
		for delivered.Load()-base+lost < int64(n) {
			wait(base, n)
		}
	}
	run(2000)
	lost = 0

	var before syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	start := delivered.Load()
	b.ReportAllocs()
	b.ResetTimer()
	// The sender stands for the publisher's feed reader: origin work.
	pprof.Do(ctx, pprof.Labels("side", "origin"), func(context.Context) { run(b.N) })
	b.StopTimer()
	var after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	got := delivered.Load() - start
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	if got > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(got), "cpu-ns/pkt")
	}
	b.ReportMetric(float64(lost), "lost-pkts")
}
