// Package bench holds talkrelay's end-to-end benchmarks of the forwarding path and
// their baselines, measured in one run so they compare. See README.md for the
// figures and how to reproduce them.
package bench
