// Package synth generates synthetic RTP media that looks enough like a real
// host on camera (VP8 video plus Opus-like audio) for the SFU's tests and its
// load generator to exercise forwarding without real encoders.
//
// Every payload carries a small [Stamp] (frame number, packet index within
// the frame, keyframe flag, original sequence number and, when the generator
// is given a clock, the send time) so that a receiver
// sitting behind the SFU, which may rewrite SSRCs, sequence numbers,
// timestamps and VP8 picture IDs, can still check what arrived with
// [ReadVideoStamp] and [ReadAudioStamp].
//
// Generators reuse their packet buffers, so producing media costs no
// allocations in steady state; callers must finish with (or copy) the
// returned packets before asking for the next ones.
package synth
