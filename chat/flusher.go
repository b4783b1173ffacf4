package chat

import (
	"time"
)

// livePrefix opens every live and backfill messages frame.
var livePrefix = messagesPrefix("")

// frameCache holds the frames built during one flush, by Seq range. Members that are
// current all ask for the same range, so a message is framed once per flush however
// many members receive it.
type frameCache struct {
	epoch   uint64 // the room's deletion epoch the frames were built under
	byRange map[[2]uint64][]frame
	lastKey [2]uint64 // the most recent lookup, the one nearly every member repeats
	last    []frame
	scratch []*entry
}

// reset forgets all frames; epoch is the room's deletion epoch read before any
// deleted flag is read for the new frames.
func (fc *frameCache) reset(epoch uint64) {
	fc.epoch = epoch
	if fc.byRange == nil {
		fc.byRange = map[[2]uint64][]frame{}
	}
	clear(fc.byRange)
	fc.lastKey, fc.last = [2]uint64{}, nil
}

// frames returns the frames carrying the live messages with Seq in [from, to].
// A delete or clear since the frames were built bumps the room's epoch and the
// frames are rebuilt: the caller holds the member's lock, which the delete notice
// also needs, so a member never receives a message after the notice deleting it.
func (fc *frameCache) frames(r *room, from, to uint64) []frame {
	if ep := r.epoch.Load(); ep != fc.epoch {
		fc.reset(ep)
	}
	key := [2]uint64{from, to}
	if key == fc.lastKey && fc.last != nil {
		return fc.last
	}
	fs, ok := fc.byRange[key]
	if !ok {
		fc.scratch = r.ring.live(fc.scratch[:0], from, to)
		fs = buildFrames(make([]frame, 0, 1), livePrefix, fc.scratch, r.hub.cfg.MaxFrameBytes)
		clear(fc.scratch)
		fc.byRange[key] = fs
	}
	fc.lastKey, fc.last = key, fs
	return fs
}

// flushState is the flusher's reusable working memory, guarded by room.flushMu.
type flushState struct {
	members []*Member
	cache   frameCache
}

// run is the room's flusher: started by Hub.acquire when the room is created,
// stopped by the release of its last reference or by Hub.Close; it owns the batch
// timer and performs every delivery of the room's messages. A small room is flushed
// as soon as something is committed; a large one every BatchInterval, so each
// recipient gets one frame per interval instead of one per message. Either way a
// held-back recipient is retried every BatchInterval.
func (r *room) run() {
	defer r.hub.wg.Done()
	interval := r.hub.cfg.BatchInterval
	timer := time.NewTimer(interval)
	timer.Stop()
	armed := false
	for {
		select {
		case <-r.quit:
			timer.Stop()
			return
		case <-r.wake:
			if r.large() {
				if armed {
					continue // coalesced into the batch the timer will flush
				}
				// After a quiet interval deliver at once, then coalesce what
				// follows for one interval: batches without delaying lone messages.
				timer.Reset(interval)
				armed = true
			}
		case <-timer.C:
			armed = false
		}
		if r.flush() && !armed {
			timer.Reset(interval)
			armed = true
		}
	}
}

// large reports whether the room coalesces deliveries into batches.
func (r *room) large() bool {
	return int(r.count.Load()) > r.hub.cfg.LargeRoom
}

// poke tells the flusher there is something to deliver; it never blocks, and
// pokes made while one is pending coalesce.
func (r *room) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// flush delivers to every member what it has not yet received and reports whether
// some member was held back. Sends happen outside the room lock, so commits and
// joins go on meanwhile.
func (r *room) flush() (pending bool) {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	fl := &r.fl
	r.mu.Lock()
	head := r.head.Load()
	fl.members = append(fl.members[:0], r.members...)
	r.mu.Unlock()
	fl.cache.reset(r.epoch.Load())
	for _, m := range fl.members {
		if m.deliver(head, &fl.cache) {
			pending = true
		}
	}
	clear(fl.members) // let departed members be collected
	fl.cache.reset(fl.cache.epoch)
	return pending
}
