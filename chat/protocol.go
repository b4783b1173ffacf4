package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"
)

// Client → server request types (PROTOCOL.md).
const (
	TypeSend     = "send"
	TypeHide     = "hide"
	TypeHistory  = "history"
	TypeReport   = "report"
	TypeDelete   = "delete"    // host only
	TypeTimeout  = "timeout"   // host only
	TypeKick     = "kick"      // host only
	TypeBan      = "ban"       // host only
	TypeClear    = "clear"     // host only
	TypeSlowMode = "slow_mode" // host only; also sent by the server to announce it
)

// Server → client message types.
const (
	TypeMessages = "messages"
	TypeAck      = "ack"
	TypeError    = "error"
	TypeDeleted  = "deleted"
	TypeCleared  = "cleared"
	TypeGap      = "gap"
	TypeTimedOut = "timed_out"
)

// maxRequestID caps the client-chosen id echoed on replies.
const maxRequestID = 64

// request is every client → server message; each type reads the fields it needs.
// Text stays raw so that invalid UTF-8 and lone surrogate escapes, which
// encoding/json would silently turn into U+FFFD, can be refused.
type request struct {
	Type     string          `json:"type"`
	ID       string          `json:"id"`
	Text     json.RawMessage `json:"text"`
	Hidden   *bool           `json:"hidden"`
	Before   uint64          `json:"before"`
	Limit    int             `json:"limit"`
	Seq      uint64          `json:"seq"`
	Reason   string          `json:"reason"`
	Identity string          `json:"identity"`
	Seconds  *int64          `json:"seconds"`
}

// decodeRequest parses one client message.
func decodeRequest(raw []byte) (request, *Error) {
	var req request
	if len(raw) > maxRequestBytes {
		return req, errorf(CodeTooLong, "message is %d bytes, over the %d-byte limit", len(raw), maxRequestBytes)
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return req, errorf(CodeBadMessage, "field %q has the wrong type", te.Field)
		}
		return req, errorf(CodeBadMessage, "not a JSON object: %v", err)
	}
	if len(req.ID) > maxRequestID {
		return req, errorf(CodeBadMessage, "id is longer than %d bytes", maxRequestID)
	}
	if req.Type == "" {
		return req, errorf(CodeBadMessage, "missing type")
	}
	return req, nil
}

// seconds reads a duration field in whole seconds within [0, maxTimeout].
func (req request) seconds(required bool) (time.Duration, *Error) {
	if req.Seconds == nil {
		if required {
			return 0, errorf(CodeBadMessage, "missing seconds")
		}
		return 0, nil
	}
	s := *req.Seconds
	if s < 0 || s > int64(maxTimeout/time.Second) { // compared in seconds: no overflow
		return 0, errorf(CodeBadMessage, "seconds must be between 0 and %d", int64(maxTimeout/time.Second))
	}
	return time.Duration(s) * time.Second, nil
}

// Server frames. Each is encoded once per event; fan-out frames are shared by
// every recipient.

type ackFrame struct {
	Type  string `json:"type"`
	ID    string `json:"id,omitempty"`
	Seq   uint64 `json:"seq,omitempty"`
	MsgID string `json:"msg_id,omitempty"`
}

type errorFrame struct {
	Type  string `json:"type"`
	ID    string `json:"id,omitempty"`
	Error *Error `json:"error"`
}

type noticeFrame struct {
	Type     string     `json:"type"`
	Seq      uint64     `json:"seq,omitempty"`      // deleted
	From     uint64     `json:"from,omitempty"`     // gap
	To       uint64     `json:"to,omitempty"`       // gap
	Seconds  *int64     `json:"seconds,omitempty"`  // slow_mode
	Identity string     `json:"identity,omitempty"` // timed_out
	Until    *time.Time `json:"until,omitempty"`    // timed_out
}

// encode marshals a frame without HTML escaping (it is never embedded in HTML, and
// escaping <, > and & would only grow chat text).
func encode(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only our own frame types reach here, and they always encode.
		panic("chat: encode frame: " + err.Error())
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func gapFrame(from, to uint64) []byte {
	return encode(noticeFrame{Type: TypeGap, From: from, To: to})
}

func slowModeFrame(d time.Duration) []byte {
	s := int64(d / time.Second)
	return encode(noticeFrame{Type: TypeSlowMode, Seconds: &s})
}

// messagesPrefix opens a messages frame; id, when set, names the history request.
func messagesPrefix(id string) []byte {
	if id == "" {
		return []byte(`{"type":"messages","messages":[`)
	}
	b := append([]byte(`{"type":"messages","id":`), encode(id)...)
	return append(b, `,"messages":[`...)
}

const messagesSuffix = "]}"
