//go:build race

package media

// The race detector allocates on its own; allocation checks skip under it.
const raceEnabled = true
