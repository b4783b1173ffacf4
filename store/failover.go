package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Riding out the death of one NATS server of a cluster: the connection moves
// to another server (nats.go tries every URL it was given and those the
// cluster announces), and a stream whose leader died elects another. For a
// moment requests go unanswered; writes are retried within the caller's
// deadline. Every write carries a message id or a compare-and-set condition,
// so a retry of a write that was stored after all is recognised, never
// stored twice.

// FailoverOptions are the NATS connection options every talkrelay connection
// uses: reconnect forever, without waiting before trying the next server, and
// notice a server that died silently (no FIN) within about 15 seconds.
func FailoverOptions() []nats.Option {
	return []nats.Option{
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.PingInterval(5 * time.Second),
		nats.MaxPingsOutstanding(3),
	}
}

// attemptTimeout bounds one try of a write: a request sent just before its
// server died is never answered, and waiting out the caller's whole deadline
// for it would leave no time to try again.
const attemptTimeout = 1500 * time.Millisecond

// retryPause is the pause before trying a failed write again.
const retryPause = 100 * time.Millisecond

// retrying runs op until it succeeds, fails for a reason other than a NATS
// server or stream leader going away, or ctx ends. op must be idempotent.
func retrying[T any](ctx context.Context, op func(ctx context.Context) (T, error)) (T, error) {
	for {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		v, err := op(actx)
		cancel()
		if err == nil || !transient(err) || ctx.Err() != nil {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, fmt.Errorf("%w (gave up: %w)", err, ctx.Err())
		case <-time.After(retryPause):
		}
	}
}

// transient reports an error that a failover explains: no answer in time, no
// server or stream leader to answer, JetStream briefly unavailable.
func transient(err error) bool {
	var apiErr *jetstream.APIError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout),
		errors.Is(err, nats.ErrNoResponders), errors.Is(err, jetstream.ErrNoStreamResponse),
		errors.Is(err, nats.ErrConnectionReconnecting), errors.Is(err, nats.ErrDisconnected):
		return true
	case errors.As(err, &apiErr):
		return apiErr.Code == 503 // "JetStream system temporarily unavailable", no leader
	}
	return false
}
