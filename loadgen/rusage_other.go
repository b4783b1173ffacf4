//go:build !unix

package loadgen

import (
	"errors"
	"time"
)

// selfCPU is not available off unix; the report shows 0.
func selfCPU() (time.Duration, error) {
	return 0, errors.New("loadgen: process CPU time is only measured on unix")
}
