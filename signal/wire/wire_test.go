package wire

import (
	"encoding/json"
	"testing"
)

// FuzzDecode: any client frame either fails to decode or decodes to a message
// that survives a round trip through JSON unchanged in type and id.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"join","id":"1","token":"x","room":"r","resume":"PA_1.abc"}`,
		`{"type":"offer","sdp":"v=0\r\n"}`,
		`{"type":"candidate","target":"publisher","candidate":{"candidate":"candidate:1 1 udp 1 1.2.3.4 5 typ host","sdpMid":"0","sdpMLineIndex":0}}`,
		`{"type":"mute","kind":"video","muted":true}`,
		`{"type":"call.invite","callee":"bob","mode":"video"}`,
		`{"type":"match.join","profile":{"attrs":{"gender":"f"},"want":{"attrs":{"gender":["m"]},"common_interest":true}}}`,
		`{"type":"video_size","width":640,"height":360}`,
		`{"type":"mute","muted":"yes"}`, `[]`, `null`, `{"sdpMLineIndex":70000}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("decoded message does not encode: %v", err)
		}
		again, err := Decode(out)
		if err != nil {
			t.Fatalf("re-encoded message %s does not decode: %v", out, err)
		}
		if again.Type != m.Type || again.ID != m.ID {
			t.Fatalf("round trip changed type/id: %q/%q → %q/%q", m.Type, m.ID, again.Type, again.ID)
		}
	})
}
