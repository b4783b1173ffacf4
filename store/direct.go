package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
)

// Reads use JetStream's direct-get API ($JS.API.DIRECT.GET.<stream>) with our
// own requests: the jetstream package has no batch get, and its last-by-subject
// get puts the subject into the request subject, where a wildcard filter such as
// "talkrelay.chat.<room>.*" cannot go.

// errNoMsg means the direct get found no message matching the request.
var errNoMsg = errors.New("no message")

// getRequest is the body of a direct-get request (JSApiMsgGetRequest on the
// server). Seq with NextFor means "the first message at or after Seq whose
// subject matches NextFor"; Batch asks for up to that many such messages.
type getRequest struct {
	Seq     uint64 `json:"seq,omitempty"`
	LastFor string `json:"last_by_subj,omitempty"`
	NextFor string `json:"next_by_subj,omitempty"`
	Batch   int    `json:"batch,omitempty"`
}

// rawMsg is a stored message as a direct get returns it.
type rawMsg struct {
	Seq  uint64 // stream sequence
	Hdr  nats.Header
	Data []byte
}

// Headers set by the server on direct-get replies.
const (
	hdrStatus     = "Status"
	hdrSequence   = "Nats-Sequence"
	hdrNumPending = "Nats-Num-Pending"
)

// directGet returns the one message req selects, or errNoMsg.
func (s *Store) directGet(ctx context.Context, stream string, req getRequest) (rawMsg, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return rawMsg{}, fmt.Errorf("encode direct get: %w", err)
	}
	reply, err := s.nc.RequestWithContext(ctx, "$JS.API.DIRECT.GET."+stream, body)
	if err != nil {
		return rawMsg{}, fmt.Errorf("direct get on %s: %w", stream, err)
	}
	return parseDirect(stream, reply)
}

// directScan calls fn with each message of stream matching subject, in stream
// order, starting at stream sequence from, until fn returns false or the
// messages run out. It fetches them in batches of up to batch messages.
func (s *Store) directScan(ctx context.Context, stream, subject string, from uint64, batch int, fn func(rawMsg) (bool, error)) error {
	// A channel just big enough for one batch and its end marker: the replies
	// of a request are all read before the next request, and a synchronous
	// subscription would allocate a half-megabyte buffer per scan.
	replies := make(chan *nats.Msg, batch+1)
	sub, err := s.nc.ChanSubscribe(s.nc.NewInbox(), replies)
	if err != nil {
		return fmt.Errorf("subscribe for direct get: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if from == 0 {
		from = 1
	}
	for {
		body, err := json.Marshal(getRequest{Seq: from, NextFor: subject, Batch: batch})
		if err != nil {
			return fmt.Errorf("encode direct get: %w", err)
		}
		if err := s.nc.PublishRequest("$JS.API.DIRECT.GET."+stream, sub.Subject, body); err != nil {
			return fmt.Errorf("direct get on %s: %w", stream, err)
		}
		// A batch reply is the messages, then an end-of-batch status (204) that
		// says how many matching messages remain; 404 means none matched.
		var more bool
		for {
			var reply *nats.Msg
			select {
			case reply = <-replies:
			case <-ctx.Done():
				return fmt.Errorf("direct get on %s: %w", stream, ctx.Err())
			}
			if reply.Header.Get(hdrStatus) == "204" {
				more = reply.Header.Get(hdrNumPending) != "0"
				break
			}
			m, err := parseDirect(stream, reply)
			if errors.Is(err, errNoMsg) {
				return nil
			}
			if err != nil {
				return err
			}
			from = m.Seq + 1
			cont, err := fn(m)
			if err != nil || !cont {
				// Replies still in flight go to the inbox we drop on return.
				return err
			}
		}
		if !more {
			return nil
		}
	}
}

// parseDirect turns a direct-get reply into a message, a status into an error.
func parseDirect(stream string, reply *nats.Msg) (rawMsg, error) {
	switch status := reply.Header.Get(hdrStatus); status {
	case "":
	case "404":
		return rawMsg{}, errNoMsg
	default:
		return rawMsg{}, fmt.Errorf("direct get on %s: status %s %s", stream, status, reply.Header.Get("Description"))
	}
	seq, err := strconv.ParseUint(reply.Header.Get(hdrSequence), 10, 64)
	if err != nil {
		return rawMsg{}, fmt.Errorf("direct get on %s: bad %s header: %w", stream, hdrSequence, err)
	}
	return rawMsg{Seq: seq, Hdr: reply.Header, Data: reply.Data}, nil
}
