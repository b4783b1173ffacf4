package media

import "github.com/talkrelay/talkrelay/media/codec"

// switchLayer moves the down track onto ref's layer at ref, a keyframe of it.
// The viewer sees one stream: sequence numbers continue, and the timestamps
// continue by the time between the two layers' frames, read from their sender
// reports (or, without them, from arrival times). Called by the worker.
func (d *DownTrack) switchLayer(ref packetRef, ts uint32) {
	from := d.layer
	d.layer = int(ref.layer)
	d.curLayer.Store(int32(d.layer))
	if d.shard.Load() != nil { // counted while a worker serves it
		d.feed.layers[from].onLayer.Add(-1)
		d.feed.layers[d.layer].onLayer.Add(1)
	}
	if !d.started {
		return // nothing sent yet: restart begins the mapping as for a new viewer
	}
	d.epoch, d.resync = ref.epoch, ref.resync
	d.waitKeyframe = false
	d.sinceRebase = false
	d.lastExt = 0
	d.vp8.pending = true
	if off, ok := d.alignedOffset(from, ts); ok {
		d.tsOffset = off
		d.newStream = false
	} else {
		d.newStream = true
	}
	d.sel.switched(d.layer)
}

// maxAlignGap bounds the time between the last frame of the old layer and the
// first of the new that sender reports may claim: more means stale reports.
const maxAlignGap = 5 // seconds

// alignedOffset is the timestamp offset that places the new layer's timestamp
// ts after the last one sent from layer from by the time between the two
// frames on the publisher's clock.
func (d *DownTrack) alignedOffset(from int, ts uint32) (uint32, bool) {
	old, cur := d.feed.layers[from], d.feed.layers[d.layer]
	mOld, mNew := old.clock.Load(), cur.clock.Load()
	if mOld == nil || mNew == nil || mOld.epoch != old.epoch.Load() || mNew.epoch != cur.epoch.Load() {
		return 0, false
	}
	rate := int64(d.feed.codec.ClockRate)
	wallOld := mOld.ntp + int64(int32(d.lastSrcTS-mOld.rtp))*1e9/rate
	wallNew := mNew.ntp + int64(int32(ts-mNew.rtp))*1e9/rate
	ticks := (wallNew - wallOld) * rate / 1e9
	if ticks > maxAlignGap*rate || ticks < -maxAlignGap*rate {
		return 0, false
	}
	// The new layer's keyframe may show the very frame last sent from the old
	// one: it must still get a later timestamp.
	ticks = max(ticks, 1)
	return d.lastOutTS + uint32(ticks) - ts, true
}

// vp8Munger keeps a viewer's VP8 picture IDs and TL0PICIDX continuous across
// layer switches: each layer's encoder numbers its pictures on its own.
type vp8Munger struct {
	pending   bool // switched: the next packet (a keyframe) sets new offsets
	havePic   bool
	picOffset uint16
	tl0Offset uint8
	lastPic   uint16
	lastTL0   uint8
	buf       []byte // the rewritten copy: the cached packet is shared
}

// munge returns payload with the viewer's picture numbering, rewriting a copy
// when it differs from the publisher's. update is false for retransmissions,
// which must not move the numbering on.
func (m *vp8Munger) munge(payload []byte, update bool) []byte {
	desc, ok := codec.ParseVP8(payload)
	if !ok || desc.PictureIDLen == 0 {
		return payload
	}
	mask := desc.PictureIDMask()
	if update && m.pending {
		m.pending = false
		if m.havePic {
			m.picOffset = (m.lastPic + 1 - desc.PictureID) & mask
			m.tl0Offset = m.lastTL0 + 1 - desc.TL0PicIdx
		}
	}
	pic := (desc.PictureID + m.picOffset) & mask
	tl0 := desc.TL0PicIdx + m.tl0Offset
	if update {
		m.lastPic, m.lastTL0, m.havePic = pic, tl0, true
	}
	if pic == desc.PictureID && (!desc.HasTL0PicIdx || tl0 == desc.TL0PicIdx) {
		return payload
	}
	if m.buf == nil {
		m.buf = make([]byte, 0, 1500) // once per down track, on its first switch
	}
	b := append(m.buf[:0], payload...)
	desc.SetPictureID(b, pic)
	desc.SetTL0PicIdx(b, tl0)
	m.buf = b
	return b
}
