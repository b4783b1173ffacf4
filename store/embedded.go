package store

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// embedded is the in-process NATS server that serves a single node, together
// with the lock that keeps a second process off its files.
type embedded struct {
	srv  *server.Server
	lock *os.File
}

// startEmbedded starts a JetStream server storing under dataDir/nats. It opens
// no listener: the store reaches it through server.InProcessConn, so a node
// opens no port for its own storage.
func startEmbedded(dataDir string, log *slog.Logger) (*embedded, error) {
	dir := filepath.Join(dataDir, "nats")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("store: create %s: %w", dir, err)
	}
	// NATS does not lock its store directory; two servers writing the same
	// message blocks would corrupt them, so refuse a second opener.
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	opts := &server.Options{
		ServerName: "talkrelay-embedded",
		DontListen: true,
		NoSigs:     true,
		JetStream:  true,
		StoreDir:   dir,
		// SyncAlways: fsync every stored message before it is acknowledged. The
		// default (a background fsync every 2 minutes) survives a crash of this
		// process but not one of the machine, which would break "acknowledged
		// means stored". See the package documentation for the cost.
		SyncAlways: true,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("store: configure embedded NATS: %w", err)
	}
	srv.SetLoggerV2(natsLogger{log.With("component", "nats")}, false, false, false)
	// Start returns once the server's own goroutines run; Shutdown (in stop)
	// ends them.
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		srv.WaitForShutdown()
		_ = lock.Close()
		return nil, fmt.Errorf("store: embedded NATS in %s not ready after 30s", dir)
	}
	return &embedded{srv: srv, lock: lock}, nil
}

// stop shuts the server down; Shutdown stops every stream, which flushes and
// closes its message blocks, so the next start finds a clean state.
func (e *embedded) stop() error {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	if err := e.lock.Close(); err != nil {
		return fmt.Errorf("store: release data lock: %w", err)
	}
	return nil
}

// natsLogger forwards the NATS server's log to slog. Notices (the start banner,
// stream recovery) go to debug so they do not drown the SFU's own info log.
type natsLogger struct{ log *slog.Logger }

func (l natsLogger) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l natsLogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l natsLogger) Fatalf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l natsLogger) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l natsLogger) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l natsLogger) Tracef(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
