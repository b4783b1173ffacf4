package metrics

import "github.com/prometheus/client_golang/prometheus"

// RoomCounts is a snapshot of the node's rooms.
type RoomCounts struct {
	Rooms   int // all rooms, calls' and groups' included
	Calls   int // rooms of 1:1 calls
	Groups  int // group voice rooms
	Callers int // participants in calls
	Lives   int // rooms with a running live
	Hosts   int
	Viewers int
}

// RoomSource reports the node's rooms at scrape time.
type RoomSource func() RoomCounts

// roomCollector reads room state at scrape time, so joining and leaving
// record nothing.
type roomCollector struct {
	src                                 RoomSource
	rooms, lives, participants, viewers *prometheus.Desc
}

// NewRoomCollector returns a collector reading src on every scrape.
func NewRoomCollector(src RoomSource) prometheus.Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, labels, nil)
	}
	return &roomCollector{
		src:          src,
		rooms:        d("rooms", "Open rooms by type (live, call, group).", "type"),
		lives:        d("lives", "Live talks running."),
		participants: d("participants", "Connected participants by role.", "role"),
		viewers:      d("viewers", "Viewers watching, over all rooms."),
	}
}

// Describe implements prometheus.Collector.
func (c *roomCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.rooms
	ch <- c.lives
	ch <- c.participants
	ch <- c.viewers
}

// Collect implements prometheus.Collector.
func (c *roomCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.src()
	ch <- prometheus.MustNewConstMetric(c.rooms, prometheus.GaugeValue, float64(n.Rooms-n.Calls-n.Groups), "live")
	ch <- prometheus.MustNewConstMetric(c.rooms, prometheus.GaugeValue, float64(n.Calls), "call")
	ch <- prometheus.MustNewConstMetric(c.rooms, prometheus.GaugeValue, float64(n.Groups), "group")
	ch <- prometheus.MustNewConstMetric(c.lives, prometheus.GaugeValue, float64(n.Lives))
	ch <- prometheus.MustNewConstMetric(c.participants, prometheus.GaugeValue, float64(n.Hosts), "host")
	ch <- prometheus.MustNewConstMetric(c.participants, prometheus.GaugeValue, float64(n.Viewers), "viewer")
	ch <- prometheus.MustNewConstMetric(c.participants, prometheus.GaugeValue, float64(n.Callers), "caller")
	ch <- prometheus.MustNewConstMetric(c.viewers, prometheus.GaugeValue, float64(n.Viewers))
}
