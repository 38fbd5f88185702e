package function

import (
	"context"
	"log/slog"
	"strings"
	"sync"

	"k8s.io/klog/v2"
)

// klogOnce guards klog's logger, which is process-wide: client-go logs
// through it.
var klogOnce sync.Once

// routeClientGoLog sends client-go's log lines into log, the structured
// log of the first function started in the process; the functions started
// after it leave klog as it is.
func routeClientGoLog(log *slog.Logger) {
	klogOnce.Do(func() {
		klog.SetSlogLogger(slog.New(clientGoLog{log.Handler()}).With("logger", "client-go"))
	})
}

// clientGoLog wraps the handler client-go's klog lines go to. When one
// list of a build fails (a 403, say), the build cancels the others, and
// client-go reports each canceled read as an error; those are demoted to
// debug, as the failure itself is logged once with its cause.
type clientGoLog struct{ slog.Handler }

func (h clientGoLog) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError && canceled(r) {
		r.Level = slog.LevelDebug
		if !h.Enabled(ctx, r.Level) {
			return nil
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h clientGoLog) WithAttrs(attrs []slog.Attr) slog.Handler {
	return clientGoLog{h.Handler.WithAttrs(attrs)}
}

func (h clientGoLog) WithGroup(name string) slog.Handler {
	return clientGoLog{h.Handler.WithGroup(name)}
}

// canceled reports whether a record is about a context canceled.
func canceled(r slog.Record) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "err" && strings.Contains(a.Value.String(), "context canceled") {
			found = true
		}
		return !found
	})
	return found
}
