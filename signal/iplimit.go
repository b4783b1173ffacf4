package signal

import (
	"net"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxTrackedIPs bounds the addresses whose connection rate is remembered: past
// it the idle ones (full buckets) are forgotten first.
const maxTrackedIPs = 100_000

// ipLimiter is a token bucket per client address.
type ipLimiter struct {
	rate  rate.Limit
	burst int

	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func newIPLimiter(perSecond float64, burst int) *ipLimiter {
	return &ipLimiter{rate: rate.Limit(perSecond), burst: burst, m: map[string]*rate.Limiter{}}
}

func (l *ipLimiter) allow(ip string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.m[ip]
	if lim == nil {
		if len(l.m) >= maxTrackedIPs {
			for k, v := range l.m {
				if v.TokensAt(now) >= float64(l.burst) {
					delete(l.m, k)
				}
			}
			if len(l.m) >= maxTrackedIPs {
				return false // every tracked address is busy: refuse newcomers rather than grow
			}
		}
		lim = rate.NewLimiter(l.rate, l.burst)
		l.m[ip] = lim
	}
	return lim.AllowN(now, 1)
}

// clientIP is the host part of a request's remote address.
func clientIP(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return remote
	}
	return host
}
