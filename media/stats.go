package media

import "sync/atomic"

// Stats are a feed's counters, updated with atomics on the forwarding path.
type Stats struct {
	PacketsIn        atomic.Uint64
	BytesIn          atomic.Uint64
	PacketsOut       atomic.Uint64
	BytesOut         atomic.Uint64
	Malformed        atomic.Uint64 // packets from the publisher that did not parse
	Late             atomic.Uint64 // packets too old for the cache window
	QueueDrops       atomic.Uint64 // packets a busy worker could not take
	CacheMisses      atomic.Uint64 // packets overwritten before a worker or NACK reached them
	NACKsReceived    atomic.Uint64 // sequence numbers viewers asked for
	Retransmits      atomic.Uint64 // packets resent from the cache
	KeyframeRequests atomic.Uint64 // PLIs sent to the publisher
	PLIsReceived     atomic.Uint64 // PLIs and FIRs viewers sent
}
