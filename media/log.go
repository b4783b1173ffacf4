package media

import (
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// pionLogger routes pion's logs into slog at debug level (pion is chatty at info).
func pionLogger(log *slog.Logger) logging.LoggerFactory { return slogFactory{log} }

type slogFactory struct{ log *slog.Logger }

func (f slogFactory) NewLogger(scope string) logging.LeveledLogger {
	return slogLeveled{f.log.With("pion", scope)}
}

type slogLeveled struct{ log *slog.Logger }

func (l slogLeveled) Trace(string)              {}
func (l slogLeveled) Tracef(string, ...any)     {}
func (l slogLeveled) Debug(m string)            { l.log.Debug(m) }
func (l slogLeveled) Debugf(f string, a ...any) { l.log.Debug(fmt.Sprintf(f, a...)) }
func (l slogLeveled) Info(m string)             { l.log.Debug(m) }
func (l slogLeveled) Infof(f string, a ...any)  { l.log.Debug(fmt.Sprintf(f, a...)) }
func (l slogLeveled) Warn(m string)             { l.log.Warn(m) }
func (l slogLeveled) Warnf(f string, a ...any)  { l.log.Warn(fmt.Sprintf(f, a...)) }
func (l slogLeveled) Error(m string)            { l.log.Error(m) }
func (l slogLeveled) Errorf(f string, a ...any) { l.log.Error(fmt.Sprintf(f, a...)) }

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
