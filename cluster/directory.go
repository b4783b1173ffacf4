package cluster

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/signal/wire"
)

// roomBucket maps each room with a live to its origin node.
const roomBucket = "talkrelay_rooms"

// ErrHeldElsewhere: another live node is the room's origin.
var ErrHeldElsewhere = errors.New("cluster: the room's live is published on another node")

// Origin is a room's directory entry.
type Origin struct {
	Node string `json:"node"`
	Live string `json:"live"` // the live's id
	// The live's host and start, so the live can continue on another node
	// if this one dies (the host reconnects elsewhere) and be recorded if the
	// host never comes back.
	Host     string    `json:"host,omitempty"`
	HostName string    `json:"host_name,omitempty"`
	Started  int64     `json:"started_ms,omitempty"` // Unix milliseconds
	Since    time.Time `json:"since"`
}

// directory is the room → origin map: claims are compare-and-set on the
// entry's revision, so of two nodes claiming at once one wins.
type directory struct {
	kv    jetstream.KeyValue
	alive func(node string) bool

	mu    sync.Mutex
	rooms map[string]Origin
}

func openDirectory(ctx context.Context, js jetstream.JetStream, alive func(string) bool, replicas int) (*directory, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      roomBucket,
		Description: "talkrelay room directory: room -> origin node",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    max(replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: room bucket: %w", err)
	}
	return &directory{kv: kv, alive: alive, rooms: map[string]Origin{}}, nil
}

func roomKey(room string) string { return base64.RawURLEncoding.EncodeToString([]byte(room)) }

// claim makes node the origin of room for l. An entry held by a node that
// is no longer alive is taken over (the host reconnected elsewhere); one held
// by a live node is not.
func (d *directory) claim(ctx context.Context, room, node string, l wire.Live) error {
	live := l.ID
	key := roomKey(room)
	b, err := json.Marshal(Origin{Node: node, Live: live, Host: l.Host, HostName: l.HostName, Started: l.StartedAt, Since: time.Now()})
	if err != nil {
		return err
	}
	for range 10 {
		e, err := d.kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			if _, err := d.kv.Create(ctx, key, b); errors.Is(err, jetstream.ErrKeyExists) {
				continue // someone claimed first: look again
			} else if err != nil {
				return fmt.Errorf("cluster: claim %s: %w", room, err)
			}
		case err != nil:
			return fmt.Errorf("cluster: claim %s: %w", room, err)
		default:
			var cur Origin
			_ = json.Unmarshal(e.Value(), &cur)
			if cur.Node != node && d.alive(cur.Node) {
				return ErrHeldElsewhere
			}
			if cur.Node == node && cur.Live == live {
				d.remember(room, cur)
				return nil
			}
			if _, err := d.kv.Update(ctx, key, b, e.Revision()); err != nil {
				if isWrongRevision(err) {
					continue
				}
				return fmt.Errorf("cluster: claim %s: %w", room, err)
			}
		}
		var o Origin
		_ = json.Unmarshal(b, &o)
		d.remember(room, o)
		return nil
	}
	return fmt.Errorf("cluster: claim %s: too much contention", room)
}

// release removes node's claim on room, if it still holds it.
func (d *directory) release(ctx context.Context, room, node string) error {
	key := roomKey(room)
	e, err := d.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cluster: release %s: %w", room, err)
	}
	var cur Origin
	_ = json.Unmarshal(e.Value(), &cur)
	if cur.Node != node {
		return nil // handed over meanwhile
	}
	if err := d.kv.Delete(ctx, key, jetstream.LastRevision(e.Revision())); err != nil && !isWrongRevision(err) {
		return fmt.Errorf("cluster: release %s: %w", room, err)
	}
	d.mu.Lock()
	delete(d.rooms, room)
	d.mu.Unlock()
	return nil
}

// retire removes room's entry if it still names node, dead, as the origin
// of live: the live ended with its node. Of the nodes that try, exactly one
// succeeds (compare-and-set), and records the live.
func (d *directory) retire(ctx context.Context, room, node, live string) (bool, error) {
	key := roomKey(room)
	e, err := d.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cluster: retire %s: %w", room, err)
	}
	var cur Origin
	if json.Unmarshal(e.Value(), &cur) != nil || cur.Node != node || cur.Live != live || d.alive(node) {
		return false, nil
	}
	if err := d.kv.Delete(ctx, key, jetstream.LastRevision(e.Revision())); err != nil {
		if isWrongRevision(err) {
			return false, nil
		}
		return false, fmt.Errorf("cluster: retire %s: %w", room, err)
	}
	d.mu.Lock()
	delete(d.rooms, room)
	d.mu.Unlock()
	return true, nil
}

func (d *directory) remember(room string, o Origin) {
	d.mu.Lock()
	d.rooms[room] = o
	d.mu.Unlock()
}

// origin returns room's origin as last seen.
func (d *directory) origin(room string) (Origin, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	o, ok := d.rooms[room]
	return o, ok
}

// watch keeps the view current until ctx ends. Owned by the Node.
func (d *directory) watch(ctx context.Context, changed func()) error {
	return watchKV(ctx, d.kv, "rooms", func(key string, value []byte) {
		name, err := base64.RawURLEncoding.DecodeString(key)
		if err != nil {
			return
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		var o Origin
		if value == nil {
			delete(d.rooms, string(name))
		} else if json.Unmarshal(value, &o) == nil {
			d.rooms[string(name)] = o
		}
	}, changed)
}

// watchKV calls apply for every entry of kv as it is put (value) or deleted
// (nil value), then changed, until ctx ends. The watcher goroutine is owned
// by ctx's owner.
func watchKV(ctx context.Context, kv jetstream.KeyValue, what string, apply func(key string, value []byte), changed func()) error {
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("cluster: watch %s: %w", what, err)
	}
	go func() {
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil {
					continue // end of the initial values
				}
				var value []byte
				if e.Operation() == jetstream.KeyValuePut {
					value = e.Value()
					if value == nil {
						value = []byte{}
					}
				}
				apply(e.Key(), value)
				changed()
			}
		}
	}()
	return nil
}

// isWrongRevision reports a compare-and-set that lost.
func isWrongRevision(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}
