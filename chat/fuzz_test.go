package chat

import (
	"context"
	"encoding/json"
	"testing"
)

// FuzzHandle feeds arbitrary data-channel messages to a viewer and a host of
// one room: nothing a client sends may panic the hub, and every frame it sends
// back to anyone is valid JSON.
func FuzzHandle(f *testing.F) {
	for _, s := range []string{
		`{"type":"send","id":"1","text":"hello"}`,
		`{"type":"history","id":"2","before":5,"limit":10}`,
		`{"type":"delete","id":"3","seq":1}`,
		`{"type":"report","id":"4","seq":1,"reason":"spam"}`,
		`{"type":"hide","hidden":true}`,
		`{"type":"timeout","identity":"v","seconds":30}`,
		`{"type":"slow_mode","seconds":5}`,
		`{"type":"send","text":"\ud800"}`,
		`[]`, `null`, `{"type":7}`, "\xff",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, raw []byte, asHost bool) {
		h, _ := newTestHub(t, Config{})
		host, hostRec := join(t, h, "r", "h", true)
		viewer, viewerRec := join(t, h, "r", "v", false)
		m := viewer
		if asHost {
			m = host
		}
		_ = m.Handle(context.Background(), raw)
		_ = send(t, viewer, "after", "still works")
		for _, r := range []*recorder{hostRec, viewerRec} {
			r.mu.Lock()
			frames := r.frames
			r.mu.Unlock()
			for _, fr := range frames {
				if !json.Valid(fr) {
					t.Fatalf("invalid JSON frame %q after input %q", fr, raw)
				}
			}
		}
	})
}
