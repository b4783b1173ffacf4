package loadgen

// Report is the outcome of a run. Its JSON form is what `loadgen --json`
// prints; fields without data are null rather than zero, so "not measured"
// is never mistaken for "perfect".
type Report struct {
	Scenario     string `json:"scenario"`
	Room         string `json:"room"`
	URL          string `json:"url"`
	Viewers      int    `json:"viewers"`
	FullViewers  int    `json:"full_viewers"`
	LightViewers int    `json:"light_viewers"`
	// Path is how viewers reach the SFU: "udp", "tcp" (ICE-TCP), "relay-udp"
	// or "relay-tcp" (through its TURN server).
	Path string `json:"path"`
	// ViewerGRO tells whether light viewers took GSO messages whole.
	ViewerGRO bool `json:"viewer_gro"`
	// ViewersConnected counts viewers whose media connection was up at the
	// end of the window; the others failed to join, to connect, or dropped.
	ViewersConnected int  `json:"viewers_connected"`
	ViewersFailed    int  `json:"viewers_failed"`
	Interrupted      bool `json:"interrupted"`

	DurationS float64 `json:"duration_s"` // the steady window as measured
	WarmupS   float64 `json:"warmup_s"`
	Bitrate   int     `json:"bitrate"`
	FPS       int     `json:"fps"`

	// HostPacketsSent is what the host wrote in the window; each viewer
	// should expect about as many.
	HostPacketsSent  uint64 `json:"host_packets_sent"`
	PacketsExpected  uint64 `json:"packets_expected"`
	PacketsReceived  uint64 `json:"packets_received"`
	PacketsLost      uint64 `json:"packets_lost"`
	PacketsDuplicate uint64 `json:"packets_duplicate"`
	PacketsLate      uint64 `json:"packets_late"`
	// LossRatio and DeliveredPPS cover all viewers in the window.
	LossRatio    float64 `json:"loss_ratio"`
	DeliveredPPS float64 `json:"delivered_pps"`

	SFUCPUSeconds     *float64 `json:"sfu_cpu_seconds"`
	SFUCPUUsPerPacket *float64 `json:"sfu_cpu_us_per_packet"`
	SFUCPUNote        string   `json:"sfu_cpu_note,omitempty"`
	LoadgenCPUSeconds float64  `json:"loadgen_cpu_seconds"`

	JoinMs            *Percentiles `json:"join_ms"`
	FirstKeyframeMs   *Percentiles `json:"first_keyframe_ms"`
	FirstKeyframeNote string       `json:"first_keyframe_note"`
	LatencyMs         *Percentiles `json:"latency_ms"`
	JitterMs          *Percentiles `json:"jitter_ms"`
	JitterAudioMs     *Percentiles `json:"jitter_audio_ms"`
	JitterVideoMs     *Percentiles `json:"jitter_video_ms"`

	Chatters int     `json:"chatters"`
	ChatRate float64 `json:"chat_rate"`
	// ChatSent counts messages handed to the chatters' channels in the
	// window (ChatSendFailed never left); each was acked, rejected (by error
	// code) or left unanswered by the end of the drain after the window.
	ChatSent       int            `json:"chat_sent"`
	ChatAcked      int            `json:"chat_acked"`
	ChatRejected   map[string]int `json:"chat_rejected"`
	ChatUnanswered int            `json:"chat_unanswered"`
	ChatSendFailed int            `json:"chat_send_failed"`
	// ChatReceivers counts receivers connected for the whole window;
	// ChatDelivered is the acked messages they received, of ChatExpected
	// (acked × receivers), and ChatDeliveryRatio their quotient.
	ChatReceivers     int      `json:"chat_receivers"`
	ChatDelivered     uint64   `json:"chat_delivered"`
	ChatExpected      uint64   `json:"chat_expected"`
	ChatDeliveryRatio *float64 `json:"chat_delivery_ratio"`
	ChatDuplicates    uint64   `json:"chat_duplicates"`
	ChatGapMessages   uint64   `json:"chat_gap_messages"` // announced as skipped by the server
	// ChatDroppedLocally counts server frames the generator's own clients
	// dropped because it read too slowly: a generator bottleneck, not the SFU's.
	ChatDroppedLocally uint64       `json:"chat_dropped_locally"`
	ChatLatencyMs      *Percentiles `json:"chat_latency_ms"` // send to arrival at each receiver
	ChatAckMs          *Percentiles `json:"chat_ack_ms"`     // send to ack at the sender
	ChatNote           string       `json:"chat_note,omitempty"`

	// Failures lists distinct viewer failure reasons with their counts.
	Failures []Failure `json:"failures,omitempty"`
	// PerViewer has one row per viewer, for --csv.
	PerViewer []ViewerResult `json:"-"`
}

// Failure is one reason viewers failed and how many did.
type Failure struct {
	Reason string `json:"reason"`
	Count  int    `json:"count"`
}

// ViewerResult is one viewer's measurements over the window.
type ViewerResult struct {
	Identity  string
	Full      bool
	Joined    bool
	Connected bool // media connection up at the end of the window
	JoinMs    float64
	// FirstKeyframeMs is from the later of the viewer's join and the host's
	// first packet to the first keyframe packet (full) or first video packet
	// (light); negative when none arrived.
	FirstKeyframeMs              float64
	Expected, Received, Lost     uint64
	Duplicates, Late             uint64
	LossRatio                    float64
	JitterAudioMs, JitterVideoMs float64
	LatencyP50Ms                 float64 // full viewers; 0 otherwise
	// ChatReceived counts this run's chat messages the viewer received;
	// negative when it is not a chat receiver or its channel never opened.
	ChatReceived     int
	ChatLatencyP50Ms float64
	Err              string
}

const firstKeyframeNote = "from the later of join and the host's first packet; full viewers: first keyframe packet, light viewers: first video packet"
