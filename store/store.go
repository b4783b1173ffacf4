package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/talkrelay/talkrelay/call"
	"github.com/talkrelay/talkrelay/room"
)

// Store implements the room package's LiveStore and the call package's Store
// durably.
var (
	_ room.LiveStore = (*Store)(nil)
	_ call.Store     = (*Store)(nil)
)

// Config says where the store keeps its data.
type Config struct {
	// DataDir is the embedded server's storage root; its files go under
	// DataDir/nats. Required when NATSURL is empty.
	DataDir string
	// NATSURL selects an external NATS (for example nats://127.0.0.1:4222),
	// which several SFU nodes can share; the URLs of several servers of a NATS
	// cluster, comma-separated, let the store move to another when one dies.
	// Empty runs the embedded server.
	NATSURL string
	// Replicas is the JetStream replica count of the store's streams and bucket:
	// 1 (the default) for the embedded server, 3 for a clustered external NATS.
	Replicas int
	// Logger receives connection events and the embedded server's log; nil
	// discards them.
	Logger *slog.Logger
}

// Store is the durable store. Its methods are safe for concurrent use, also by
// several processes sharing one NATS.
type Store struct {
	log      *slog.Logger
	emb      *embedded // nil with an external NATS
	nc       *nats.Conn
	js       jetstream.JetStream
	chat     jetstream.Stream
	reports  jetstream.Stream
	lives    jetstream.Stream
	calls    jetstream.Stream
	bans     jetstream.KeyValue
	users    jetstream.KeyValue
	closed   chan struct{} // closed by nats when the connection has closed
	closeMu  sync.Mutex
	closeErr error
	isClosed bool
}

// Open starts the embedded NATS server (or connects to cfg.NATSURL) and makes
// sure the store's streams and bucket exist. Close releases what Open took.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	if cfg.Replicas < 0 {
		return nil, fmt.Errorf("store: replicas %d must be positive", cfg.Replicas)
	}
	s := &Store{log: cfg.Logger.With("component", "store"), closed: make(chan struct{})}
	opts := append(FailoverOptions(),
		nats.Name("talkrelay-store"),
		nats.ClosedHandler(func(*nats.Conn) { close(s.closed) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				s.log.Warn("NATS connection lost", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { s.log.Info("NATS reconnected", "url", nc.ConnectedUrlRedacted()) }),
	)
	url := cfg.NATSURL
	if url == "" {
		if cfg.DataDir == "" {
			return nil, errors.New("store: DataDir is required without NATSURL")
		}
		if cfg.Replicas > 1 {
			return nil, fmt.Errorf("store: %d replicas need a clustered external NATS (NATSURL)", cfg.Replicas)
		}
		emb, err := startEmbedded(cfg.DataDir, cfg.Logger)
		if err != nil {
			return nil, err
		}
		s.emb = emb
		opts = append(opts, nats.InProcessServer(emb.srv))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		s.stopEmbedded()
		return nil, fmt.Errorf("store: connect to NATS %q: %w", url, err)
	}
	s.nc = nc
	if err := s.setup(ctx, cfg.Replicas); err != nil {
		_ = s.Close()
		return nil, err
	}
	where := "embedded in " + cfg.DataDir
	if cfg.NATSURL != "" {
		where = nc.ConnectedUrlRedacted()
	}
	s.log.Info("store open", "nats", where, "replicas", cfg.Replicas)
	return s, nil
}

// setup creates or updates the streams and the bucket. Updating with the same
// configuration is a no-op, so every node may run it at every start.
func (s *Store) setup(ctx context.Context, replicas int) error {
	js, err := jetstream.New(s.nc)
	if err != nil {
		return fmt.Errorf("store: JetStream: %w", err)
	}
	s.js = js
	stream := func(name, prefix string, perSubject int64) (jetstream.Stream, error) {
		st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name:              name,
			Subjects:          []string{prefix + ">"},
			Storage:           jetstream.FileStorage,
			Replicas:          replicas,
			Retention:         jetstream.LimitsPolicy,
			Discard:           jetstream.DiscardOld,
			MaxMsgsPerSubject: perSubject,
			// Direct gets let any replica answer reads, and allow batches.
			AllowDirect: true,
			Duplicates:  2 * time.Minute,
		})
		if err != nil {
			return nil, fmt.Errorf("store: stream %s: %w", name, err)
		}
		return st, nil
	}
	// Chat history is kept whole (-1): it is the product.
	if s.chat, err = stream(chatStream, chatPrefix, -1); err != nil {
		return err
	}
	if s.reports, err = stream(reportStream, reportPrefix, maxReportsPerRoom); err != nil {
		return err
	}
	if s.lives, err = stream(liveStream, livePrefix, maxLivesPerRoom); err != nil {
		return err
	}
	if s.calls, err = stream(callStream, callPrefix, maxCallsPerUser); err != nil {
		return err
	}
	bucket := func(name, description string) (jetstream.KeyValue, error) {
		kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      name,
			Description: description,
			History:     1,
			Storage:     jetstream.FileStorage,
			Replicas:    replicas,
		})
		if err != nil {
			return nil, fmt.Errorf("store: bucket %s: %w", name, err)
		}
		return kv, nil
	}
	if s.bans, err = bucket(banBucket, "talkrelay bans: room.identity -> until"); err != nil {
		return err
	}
	if s.users, err = bucket(userBucket, "talkrelay users: identity -> name, call settings"); err != nil {
		return err
	}
	return nil
}

// Close drains the connection (pending writes complete) and shuts the embedded
// server down cleanly. Calling it again returns the first result.
func (s *Store) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.isClosed {
		return s.closeErr
	}
	s.isClosed = true
	var errs []error
	if err := s.nc.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		errs = append(errs, fmt.Errorf("store: drain NATS connection: %w", err))
		s.nc.Close()
	}
	// Drain ends by closing the connection; nats bounds it by its drain timeout.
	<-s.closed
	if err := s.stopEmbedded(); err != nil {
		errs = append(errs, err)
	}
	s.closeErr = errors.Join(errs...)
	if s.closeErr == nil {
		s.log.Info("store closed")
	}
	return s.closeErr
}

func (s *Store) stopEmbedded() error {
	if s.emb == nil {
		return nil
	}
	err := s.emb.stop()
	s.emb = nil
	return err
}
