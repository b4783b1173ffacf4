package turn

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// pionLogger routes pion/turn's logs into slog at debug level: it reports
// every refused request at info, which a public server sees all day.
type pionLogger struct{ log *slog.Logger }

func (f pionLogger) NewLogger(scope string) logging.LeveledLogger {
	return pionLevel{f.log.With("pion", scope)}
}

type pionLevel struct{ log *slog.Logger }

func (l pionLevel) Trace(string)              {}
func (l pionLevel) Tracef(string, ...any)     {}
func (l pionLevel) Debug(m string)            { l.log.Debug(m) }
func (l pionLevel) Debugf(f string, a ...any) { l.debugf(f, a...) }
func (l pionLevel) Info(m string)             { l.log.Debug(m) }
func (l pionLevel) Infof(f string, a ...any)  { l.debugf(f, a...) }
func (l pionLevel) Warn(m string)             { l.log.Warn(m) }
func (l pionLevel) Warnf(f string, a ...any)  { l.log.Warn(fmt.Sprintf(f, a...)) }
func (l pionLevel) Error(m string)            { l.log.Error(m) }
func (l pionLevel) Errorf(f string, a ...any) { l.log.Error(fmt.Sprintf(f, a...)) }

// debugf formats only when debug logs are wanted: pion/turn logs each relayed
// datagram at debug level.
func (l pionLevel) debugf(f string, a ...any) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug(fmt.Sprintf(f, a...))
	}
}
