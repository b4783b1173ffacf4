// Package loadgen drives a talkrelay SFU with one synthetic host and many
// viewers on this machine and measures what the viewers receive: join time,
// time to the first keyframe, loss, jitter, end-to-end latency and the SFU's
// CPU per delivered packet; with chatters, also chat delivery (every acked
// message at every viewer connected throughout the window) and chat latency
// from send to arrival. cmd/loadgen is its command line; tests and
// benchmark runners call Run directly.
//
// Two kinds of viewers keep the generator itself cheap enough to load an
// SFU from the same two-core machine:
//
//   - full viewers are ordinary pion peers that decrypt every packet and read
//     the synth stamp, which gives keyframe detection and latency;
//   - light viewers complete the same ICE/DTLS handshake but count RTP from
//     its clear header under pion's SRTP layer and drop it there, saving the
//     decryption and pion's per-packet work that would otherwise make the
//     generator, not the SFU, the bottleneck.
//
// RunCall is the call scenario: pairs of caller devices place 1:1 calls,
// both sides publish and receive (full peers, as above), and the report
// gives calls connected, setup time from the invite to media both ways,
// loss and latency.
//
// Only loopback and the 198.18.0.0/15 benchmark networks are targeted unless
// the caller opts in (see CheckTarget): a load generator pointed at someone
// else's server is an attack.
package loadgen
