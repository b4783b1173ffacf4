package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/quic-go/quic-go"

	"github.com/talkrelay/talkrelay/chat"
	"github.com/talkrelay/talkrelay/room"
	"github.com/talkrelay/talkrelay/signal/wire"
	"github.com/talkrelay/talkrelay/store"
)

// Config configures a cluster node.
type Config struct {
	// NATSURL is the NATS (JetStream) every node of the cluster shares: one
	// URL, or several servers of a NATS cluster comma-separated, so the node
	// moves to another server when one dies.
	NATSURL string
	// Replicas is how many NATS servers keep the cluster's buckets (default
	// 1; 3 on a NATS cluster of three or more JetStream servers).
	Replicas int
	// NodeID names this node; unique in the cluster.
	NodeID string
	// URL is where clients reach this node (http://host:port), given in
	// redirects.
	URL string
	// RelayAddr is the UDP address the QUIC relay listens on (":7884").
	RelayAddr string
	// RelayAdvertise is the host:port other nodes dial for the relay; default
	// RelayAddr, with 127.0.0.1 for an unspecified host.
	RelayAdvertise string
	// Secret is the cluster key: nodes holding the same secret relay to each
	// other (mutual TLS), no others.
	Secret string
	// MaxViewers is this node's viewer capacity: a viewer joining beyond it is
	// redirected to the least loaded node. 0: never redirect.
	MaxViewers int
	// MaxRelayChildren bounds how many nodes pull one room from a node; more
	// pull from edges (a relay tree). 0: no bound (every edge pulls from the
	// origin).
	MaxRelayChildren int
	Rooms            *room.Manager
	Chat             *chat.Hub
	// WatchChat reports chat messages stored by any node (store.WatchChat).
	WatchChat func(fn func(room string, seq uint64)) (func(), error)
	// LastChatSeq is a room's newest stored chat sequence
	// (store.LastChatSeq): the catch-up compares it with what members here
	// hold (bus.go).
	LastChatSeq func(ctx context.Context, room string) (uint64, error)
	// EgressBytes returns the media bytes sent so far, for the load figures.
	EgressBytes func() uint64
	// Heartbeat is how often the node reports itself (default 1 s); a node
	// silent for NodeTTL (default 4 s) is dead.
	Heartbeat time.Duration
	NodeTTL   time.Duration
	// OriginGrace is how long the viewers here of a live whose node died wait,
	// told, for its host to publish again on any node (default 30 s, the host
	// grace); then the live ends with EndOriginLost.
	OriginGrace time.Duration
	Logger      *slog.Logger
}

// Node is this process's membership of the cluster.
type Node struct {
	cfg    Config
	log    *slog.Logger
	rooms  *room.Manager
	nc     *nats.Conn
	reg    *registry
	dir    *directory
	server *relayServer
	client *relayClient
	relay  string // advertised relay address
	ln     *quic.Listener
	tr     *quic.Transport

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	kick    chan struct{}
	unwatch func()
	// alternates are the other nodes' URLs clients may fail over to.
	alternates atomic.Pointer[[]string]

	mu       sync.Mutex
	pulls    map[string]*pull
	orphans  map[string]*orphan   // rooms whose live lost its origin (failover.go)
	altKey   string               // the failover nodes last announced (alternates.go)
	idle     map[string]time.Time // rooms whose pull has had no viewer since
	claims   map[string]string    // room → live id claimed
	counts   map[string]nodeCounts
	sentAt   time.Time
	lastSent map[string]int
	cpuAt    time.Time
	cpuUsed  time.Duration
	egrAt    uint64
}

// Start joins the cluster: it connects to NATS, opens the relay and starts
// heartbeating. Close leaves.
func Start(cfg Config) (*Node, error) {
	if cfg.NodeID == "" || cfg.NATSURL == "" || cfg.RelayAddr == "" {
		return nil, errors.New("cluster: a node needs NATSURL, NodeID and RelayAddr")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = time.Second
	}
	if cfg.NodeTTL == 0 {
		cfg.NodeTTL = 4 * cfg.Heartbeat
	}
	if cfg.OriginGrace == 0 {
		cfg.OriginGrace = 30 * time.Second
	}
	srvTLS, cliTLS, err := clusterTLS(cfg.Secret)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger.With("component", "cluster", "node", cfg.NodeID)
	ctx, cancel := context.WithCancel(context.Background())
	n := &Node{
		cfg: cfg, log: log, rooms: cfg.Rooms, ctx: ctx, cancel: cancel, kick: make(chan struct{}, 1),
		pulls: map[string]*pull{}, orphans: map[string]*orphan{}, idle: map[string]time.Time{}, claims: map[string]string{},
		counts: map[string]nodeCounts{}, lastSent: map[string]int{}, cpuAt: time.Now(),
	}
	fail := func(err error) (*Node, error) {
		n.closeTransport()
		cancel()
		return nil, err
	}
	n.nc, err = nats.Connect(cfg.NATSURL, append(store.FailoverOptions(), nats.Name("talkrelay-cluster-"+cfg.NodeID))...)
	if err != nil {
		return fail(fmt.Errorf("cluster: connect to NATS: %w", err))
	}
	js, err := jetstream.New(n.nc)
	if err != nil {
		return fail(err)
	}
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	defer scancel()
	if n.reg, err = openRegistry(sctx, js, cfg.NodeTTL, cfg.Replicas); err != nil {
		return fail(err)
	}
	alive := func(id string) bool { _, ok := n.reg.alive(id); return ok }
	if n.dir, err = openDirectory(sctx, js, alive, cfg.Replicas); err != nil {
		return fail(err)
	}
	udp, err := net.ListenPacket("udp", cfg.RelayAddr)
	if err != nil {
		return fail(fmt.Errorf("cluster: relay listen %s: %w", cfg.RelayAddr, err))
	}
	n.tr = &quic.Transport{Conn: udp}
	if n.ln, err = n.tr.Listen(srvTLS, quicConfig()); err != nil {
		return fail(fmt.Errorf("cluster: relay listen: %w", err))
	}
	n.relay = advertise(cfg.RelayAdvertise, udp.LocalAddr().(*net.UDPAddr))
	n.server = &relayServer{ln: n.ln, rooms: cfg.Rooms, log: log, children: map[string]int{}}
	n.client = &relayClient{tls: cliTLS, log: log, conns: map[string]*edgeConn{}}

	if err := n.reg.watch(ctx, n.poke); err != nil {
		return fail(err)
	}
	if err := n.dir.watch(ctx, n.poke); err != nil {
		return fail(err)
	}
	if err := n.heartbeat(); err != nil {
		return fail(err)
	}
	if _, err := n.nc.Subscribe(viewersSubject, n.onCounts); err != nil {
		return fail(fmt.Errorf("cluster: subscribe: %w", err))
	}
	if err := n.watchModeration(); err != nil {
		return fail(err)
	}
	if cfg.WatchChat != nil && cfg.Chat != nil {
		if n.unwatch, err = cfg.WatchChat(n.onChat); err != nil {
			return fail(err)
		}
	}
	n.wg.Add(3)
	// Chat catch-up: owned by the Node, ends at Close.
	go func() { defer n.wg.Done(); n.catchUpChat() }()
	// Relay server: owned by the Node, ends when Close closes the listener.
	go func() { defer n.wg.Done(); n.server.serve(ctx) }()
	// Reconciler: owned by the Node, ends at Close.
	go func() { defer n.wg.Done(); n.loop() }()
	log.Info("cluster node started", "relay", n.relay, "url", cfg.URL)
	return n, nil
}

// advertise is the relay address other nodes dial.
func advertise(configured string, bound *net.UDPAddr) string {
	if configured != "" {
		return configured
	}
	ip := bound.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(bound.Port))
}

// RelayAddr is the relay address other nodes dial.
func (n *Node) RelayAddr() string { return n.relay }

// ID is the node's id.
func (n *Node) ID() string { return n.cfg.NodeID }

// Nodes lists the nodes alive, this one included.
func (n *Node) Nodes() []NodeInfo { return n.reg.all() }

// Origin returns the node where room's live is published, if any.
func (n *Node) Origin(room string) (Origin, bool) { return n.dir.origin(room) }

func (n *Node) poke() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// reconcileEvery bounds how long a change (a viewer joining an edge, a live
// starting) waits to be acted on when no watch pokes sooner.
const reconcileEvery = 200 * time.Millisecond

func (n *Node) loop() {
	tick := time.NewTicker(reconcileEvery)
	defer tick.Stop()
	beat := time.NewTicker(n.cfg.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-tick.C:
		case <-n.kick:
		case <-beat.C:
			if err := n.heartbeat(); err != nil {
				n.log.Warn("heartbeat", "err", err)
			}
		}
		n.reconcile()
	}
}

// Close leaves the cluster: the node's entry goes, pulls stop, the relay
// closes. Lives published here end with the rooms (server shutdown).
func (n *Node) Close() error {
	n.mu.Lock()
	pulls := make([]*pull, 0, len(n.pulls))
	for _, p := range n.pulls {
		pulls = append(pulls, p)
	}
	claims := n.claims
	n.claims = map[string]string{}
	n.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for name := range claims {
		_ = n.dir.release(ctx, name, n.cfg.NodeID)
	}
	n.reg.leave(ctx, n.cfg.NodeID)
	if n.cfg.Chat != nil {
		n.cfg.Chat.OnModerate(nil)
	}
	n.cancel()
	for _, p := range pulls {
		<-p.done
	}
	if n.unwatch != nil {
		n.unwatch()
	}
	n.closeTransport()
	n.wg.Wait()
	return nil
}

func (n *Node) closeTransport() {
	if n.client != nil {
		n.client.close()
	}
	if n.ln != nil {
		_ = n.ln.Close()
	}
	if n.tr != nil {
		_ = n.tr.Close()
	}
	if n.nc != nil {
		n.nc.Close()
	}
}

// heartbeat reports this node's addresses and load.
func (n *Node) heartbeat() error {
	now := time.Now()
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	used := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	var egress uint64
	if n.cfg.EgressBytes != nil {
		egress = n.cfg.EgressBytes()
	}
	info := NodeInfo{
		ID: n.cfg.NodeID, URL: n.cfg.URL, Relay: n.relay, MaxViewers: n.cfg.MaxViewers, MaxRelayChildren: n.cfg.MaxRelayChildren,
		Serving: map[string]int{}, Children: n.server.childCounts(),
	}
	for _, cr := range n.rooms.ClusterRooms() {
		info.Viewers += cr.Viewers
		if cr.Origin {
			info.Serving[cr.Name] = 0
		}
	}
	n.mu.Lock()
	if dt := now.Sub(n.cpuAt); dt > 0 {
		info.CPU = float64(used-n.cpuUsed) / float64(dt)
		if egress >= n.egrAt {
			info.EgressBps = uint64(float64(egress-n.egrAt) / dt.Seconds())
		}
	}
	n.cpuAt, n.cpuUsed, n.egrAt = now, used, egress
	for name, p := range n.pulls {
		if p.attached() {
			info.Serving[name] = p.depth
		}
	}
	n.mu.Unlock()
	ctx, cancel := context.WithTimeout(n.ctx, 2*time.Second)
	defer cancel()
	return n.reg.heartbeat(ctx, info)
}

// idleLinger is how long an edge keeps pulling a room nobody here watches,
// so a viewer who reloads finds it still flowing.
const idleLinger = 2 * time.Second

// reconcile makes this node's cluster state follow its rooms: claims for
// lives published here, pulls for lives watched here, counts for everyone.
func (n *Node) reconcile() {
	rooms := n.rooms.ClusterRooms()
	byName := make(map[string]room.ClusterRoom, len(rooms))
	for _, cr := range rooms {
		byName[cr.Name] = cr
	}
	n.claim(byName)
	n.pullRooms(byName)
	n.tendFailures(byName)
	n.refreshAlternates()
	n.publishCounts(byName)
	n.applyCounts(byName)
}

func (n *Node) claim(rooms map[string]room.ClusterRoom) {
	ctx, cancel := context.WithTimeout(n.ctx, 2*time.Second)
	defer cancel()
	for name, cr := range rooms {
		if !cr.Origin || cr.Live == nil {
			continue
		}
		n.mu.Lock()
		have := n.claims[name] == cr.Live.ID
		n.mu.Unlock()
		if have {
			continue
		}
		err := n.dir.claim(ctx, name, n.cfg.NodeID, *cr.Live)
		if errors.Is(err, ErrHeldElsewhere) {
			// Until the registry lets the old origin go (a host that came back
			// here before its dead node expired): tried again each round.
			n.log.Debug("room claim", "room", name, "err", err)
			continue
		}
		if err != nil {
			n.log.Warn("room claim", "room", name, "err", err)
			continue
		}
		n.mu.Lock()
		n.claims[name] = cr.Live.ID
		n.mu.Unlock()
	}
	n.mu.Lock()
	var gone []string
	for name, id := range n.claims {
		if cr, ok := rooms[name]; !ok || !cr.Origin || cr.Live == nil || cr.Live.ID != id {
			gone = append(gone, name)
			delete(n.claims, name)
		}
	}
	n.mu.Unlock()
	for _, name := range gone {
		if err := n.dir.release(ctx, name, n.cfg.NodeID); err != nil {
			n.log.Warn("room release", "room", name, "err", err)
		}
	}
}

// pullRooms starts a pull for each room watched here whose live is
// elsewhere, and stops pulls nobody needs.
func (n *Node) pullRooms(rooms map[string]room.ClusterRoom) {
	now := time.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	for name, p := range n.pulls {
		cr, ok := rooms[name]
		select {
		case <-p.done: // the live ended, or the pull was stopped
			delete(n.pulls, name)
			continue
		default:
		}
		switch {
		case !ok: // the room closed here
			n.stopLocked(name, p, nil)
		case cr.Host || cr.Origin: // the host is here now: its media takes the relay's feeds over
			n.detachLocked(name, p, "")
		case cr.Viewers == 0:
			if since, idle := n.idle[name]; !idle {
				n.idle[name] = now
			} else if now.Sub(since) > idleLinger {
				n.stopLocked(name, p, nil)
			}
		default:
			delete(n.idle, name)
			if _, alive := n.reg.alive(p.parent); !alive {
				// The parent died: another parent carries the live on, or
				// the viewers wait, told, for the host to come back.
				if parent, depth := n.pickParent(name, p.depth); parent != "" {
					n.detachLocked(name, p, "")
					n.startLocked(name, parent, depth)
				} else if o, ok := n.dir.origin(name); !ok || !n.isAlive(o.Node) {
					n.orphanLocked(name, p, o)
				}
			}
		}
	}
	for name, cr := range rooms {
		if n.pulls[name] != nil || cr.Viewers == 0 || cr.Host || cr.Origin {
			continue
		}
		if parent, depth := n.pickParent(name, 0); parent != "" {
			n.startLocked(name, parent, depth)
		}
	}
}

func (n *Node) isAlive(id string) bool { _, ok := n.reg.alive(id); return ok }

func (n *Node) startLocked(name, parent string, depth int) {
	ctx, cancel := context.WithCancel(n.ctx)
	p := &pull{n: n, room: name, parent: parent, depth: depth, ctx: ctx, cancel: cancel, done: make(chan struct{}), ctrlOut: make(chan ctrl, 64)}
	n.pulls[name] = p
	delete(n.idle, name)
	n.log.Debug("relay pull", "room", name, "parent", parent, "depth", depth)
	go p.run()
}

// detachLocked stops p but leaves its live shown here (failover.go).
func (n *Node) detachLocked(name string, p *pull, reason string) {
	n.cancelPullLocked(name, p, func() { p.detach(reason) }) // lets its tracks go
}

// stopLocked stops p and ends its live here with rec (nil: silently).
func (n *Node) stopLocked(name string, p *pull, rec *wire.Live) {
	n.cancelPullLocked(name, p, func() { p.end(rec) })
}

// cancelPullLocked forgets p and cancels it; then, once the pull has
// stopped applying state, then runs on a goroutine of its own that ends
// with it.
func (n *Node) cancelPullLocked(name string, p *pull, then func()) {
	delete(n.pulls, name)
	delete(n.idle, name)
	p.cancel()
	go func() {
		<-p.done
		then()
	}()
}

// pickParent chooses where to pull room from: the origin, or, when it serves
// as many edges as allowed, the shallowest edge that has room for one more.
// below, when not 0, admits only parents shallower than it (a node re-picking
// must not pick its own descendants). It returns "" when no node can serve.
func (n *Node) pickParent(name string, below int) (string, int) {
	o, ok := n.dir.origin(name)
	if !ok || o.Node == n.cfg.NodeID {
		return "", 0
	}
	origin, alive := n.reg.alive(o.Node)
	if !alive {
		return "", 0
	}
	if origin.canServe(name) {
		return origin.ID, 1
	}
	best, bestDepth, bestKids := "", 0, 0
	for _, c := range n.reg.all() {
		d, serving := c.Serving[name]
		if !serving || c.ID == n.cfg.NodeID || d == 0 || (below > 0 && d+1 >= below) || !c.canServe(name) {
			continue
		}
		if best == "" || d < bestDepth || (d == bestDepth && c.Children[name] < bestKids) {
			best, bestDepth, bestKids = c.ID, d, c.Children[name]
		}
	}
	if best == "" {
		return origin.ID, 1 // everyone is full: the origin takes one more
	}
	return best, bestDepth + 1
}
