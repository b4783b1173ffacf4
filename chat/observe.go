package chat

// OnMessage registers fn to be told of every user message stored (and about to
// be fanned out), so the room layer can count who chatted during a live. fn runs
// in the sender's Handle call and must not block.
func (h *Hub) OnMessage(fn func(room string, from Participant)) { h.onMessage.Store(&fn) }

func (h *Hub) messaged(room string, from Participant) {
	if fn := h.onMessage.Load(); fn != nil && *fn != nil {
		(*fn)(room, from)
	}
}
