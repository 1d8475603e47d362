package logingov

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/piivault/piivault/vault"
)

// auditCounter returns a logger that counts vault enroll events.
func auditCounter(n *atomic.Int64) *slog.Logger {
	return slog.New(&countHandler{n: n})
}

type countHandler struct{ n *atomic.Int64 }

func (h *countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countHandler) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "event" && a.Value.String() == vault.EventEnroll {
			h.n.Add(1)
			return false
		}
		return true
	})
	return nil
}
func (h *countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countHandler) WithGroup(string) slog.Handler      { return h }

// eventLog records the event name of every vault audit event.
type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (h *eventLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *eventLog) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "event" {
			h.mu.Lock()
			h.events = append(h.events, a.Value.String())
			h.mu.Unlock()
			return false
		}
		return true
	})
	return nil
}
func (h *eventLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *eventLog) WithGroup(string) slog.Handler      { return h }

func (h *eventLog) list() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.events...)
}
