//go:build unix

package loadgen

import (
	"fmt"
	"syscall"
	"time"
)

// selfCPU is the CPU time (user + system) this process has used, to show
// how much of the machine the generator itself took while measuring.
func selfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("loadgen: getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
