// Package metrics exposes talkrelay's Prometheus metrics. Each server owns its
// own registry (no global state), with the Go runtime and process collectors, so
// operators and the load generator can read the SFU's CPU and memory.
//
// Two kinds of metric keep recording off the hot path: SFU holds metrics recorded
// as events happen (latencies, lives, chat, connections), each one atomic
// operation; the media and room collectors read state their owners already keep
// (per-feed atomic counters, room membership) only when Prometheus scrapes. This
// package imports no other talkrelay package, so any of them may record into it.
package metrics

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry is a server's metrics registry.
type Registry struct {
	reg *prometheus.Registry
}

// New returns a registry with the Go runtime and process collectors.
func New() *Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return &Registry{reg: reg}
}

// Register adds collectors to the registry.
func (r *Registry) Register(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := r.reg.Register(c); err != nil {
			return fmt.Errorf("metrics: register: %w", err)
		}
	}
	return nil
}

// Registerer is where a server registers its collectors.
func (r *Registry) Registerer() prometheus.Registerer { return r.reg }

// Gatherer reads the registry (tests, promlint).
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// Handler serves the registry in the Prometheus text format.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{Registry: r.reg})
}
