// Package coalesce lets concurrent identical requests share one piece of
// work.
package coalesce

import (
	"context"
	"sync"
)

// Group runs at most one call per key at a time; callers that ask for a
// key while its call runs wait for it and share its result.
//
// Unlike singleflight, a call does not run under the context of whichever
// caller came first: it runs under a context of its own, canceled when
// every caller waiting for it has gone. So one caller that disconnects
// does not fail the others, and work nobody waits for stops.
type Group[T any] struct {
	mu    sync.Mutex
	calls map[string]*call[T]
}

type call[T any] struct {
	done    chan struct{}
	val     T
	err     error
	waiters int
	cancel  context.CancelFunc
}

// Do runs fn for key, or joins the call for key already running, and
// returns its result. fn's context keeps ctx's values but not its
// deadline or cancellation; fn sets its own deadline.
func (g *Group[T]) Do(ctx context.Context, key string, fn func(context.Context) (T, error)) (T, error) {
	c := g.join(ctx, key, fn)
	select {
	case <-c.done:
		g.leave(key, c)
		return c.val, c.err
	case <-ctx.Done():
		g.leave(key, c)
		var zero T
		return zero, ctx.Err()
	}
}

// join returns the running call for key, or starts one.
func (g *Group[T]) join(ctx context.Context, key string, fn func(context.Context) (T, error)) *call[T] {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.calls == nil {
		g.calls = map[string]*call[T]{}
	}
	if c, ok := g.calls[key]; ok {
		c.waiters++
		return c
	}
	callCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c := &call[T]{done: make(chan struct{}), waiters: 1, cancel: cancel}
	g.calls[key] = c
	go func() {
		c.val, c.err = fn(callCtx)
		cancel()
		g.mu.Lock()
		if g.calls[key] == c {
			delete(g.calls, key)
		}
		g.mu.Unlock()
		close(c.done)
	}()
	return c
}

// leave drops a waiter; the last one to leave an unfinished call cancels it.
func (g *Group[T]) leave(key string, c *call[T]) {
	g.mu.Lock()
	defer g.mu.Unlock()
	c.waiters--
	if c.waiters > 0 {
		return
	}
	c.cancel()
	if g.calls[key] == c {
		delete(g.calls, key)
	}
}
