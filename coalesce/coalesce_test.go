package coalesce

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSharesOneCall(t *testing.T) {
	var g Group[int]
	var calls atomic.Int32
	release := make(chan struct{})
	fn := func(ctx context.Context) (int, error) {
		calls.Add(1)
		<-release
		return 42, nil
	}
	var wg sync.WaitGroup
	results := make([]int, 10)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _ = g.Do(context.Background(), "k", fn)
		}()
	}
	waitFor(t, func() bool { return waiters(&g, "k") == 10 })
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("%d calls, want 1", n)
	}
	for _, r := range results {
		if r != 42 {
			t.Errorf("result %d, want 42", r)
		}
	}
	// A later caller runs a new call.
	if v, _ := g.Do(context.Background(), "k", func(context.Context) (int, error) { return 7, nil }); v != 7 {
		t.Errorf("later call = %d, want 7", v)
	}
}

func TestKeysDoNotShare(t *testing.T) {
	var g Group[string]
	a, _ := g.Do(context.Background(), "a", func(context.Context) (string, error) { return "a", nil })
	b, _ := g.Do(context.Background(), "b", func(context.Context) (string, error) { return "b", nil })
	if a != "a" || b != "b" {
		t.Errorf("got %q %q", a, b)
	}
}

func TestOneCallerLeavingDoesNotCancel(t *testing.T) {
	var g Group[int]
	release := make(chan struct{})
	var callErr atomic.Value
	fn := func(ctx context.Context) (int, error) {
		select {
		case <-release:
			return 1, nil
		case <-ctx.Done():
			callErr.Store(ctx.Err())
			return 0, ctx.Err()
		}
	}
	leaving, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := g.Do(leaving, "k", fn); done <- err }()
	waitFor(t, func() bool { return waiters(&g, "k") == 1 })
	stay := make(chan int)
	go func() { v, _ := g.Do(context.Background(), "k", fn); stay <- v }()
	waitFor(t, func() bool { return waiters(&g, "k") == 2 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("leaving caller got %v, want context.Canceled", err)
	}
	close(release)
	if v := <-stay; v != 1 {
		t.Errorf("staying caller got %d, want 1", v)
	}
	if callErr.Load() != nil {
		t.Error("the call was canceled while a caller still waited")
	}
}

func TestLastCallerLeavingCancels(t *testing.T) {
	var g Group[int]
	canceled := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _ = g.Do(ctx, "k", func(ctx context.Context) (int, error) {
			<-ctx.Done()
			close(canceled)
			return 0, ctx.Err()
		})
	}()
	waitFor(t, func() bool { return waiters(&g, "k") == 1 })
	cancel()
	select {
	case <-canceled:
	case <-time.After(5 * time.Second):
		t.Fatal("the call went on after its only caller left")
	}
}

func waiters[T any](g *Group[T], key string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.calls[key]; ok {
		return c.waiters
	}
	return 0
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestLeftCallIsNotJoined checks that a call every caller has left is gone
// at once, even while its function still runs: a new caller starts a new
// call instead of joining a canceled one.
func TestLeftCallIsNotJoined(t *testing.T) {
	var g Group[int]
	release := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = g.Do(ctx, "k", func(context.Context) (int, error) {
			<-release // goes on after its caller left
			return 1, nil
		})
	}()
	waitFor(t, func() bool { return waiters(&g, "k") == 1 })
	cancel()
	<-done
	defer close(release)
	started := make(chan struct{})
	go func() {
		_, _ = g.Do(context.Background(), "k", func(context.Context) (int, error) { close(started); return 2, nil })
	}()
	waitFor(t, func() bool {
		select {
		case <-started:
			return true
		default:
			return false
		}
	})
}

// TestOldCallKeepsNewOne checks that a left call that finishes late does
// not unregister the newer call for its key, which would let a third
// caller run a second call at the same time.
func TestOldCallKeepsNewOne(t *testing.T) {
	var g Group[int]
	releaseOld, releaseNew := make(chan struct{}), make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	oldDone := make(chan struct{})
	go func() {
		defer close(oldDone)
		_, _ = g.Do(ctx, "k", func(context.Context) (int, error) { <-releaseOld; return 1, nil })
	}()
	waitFor(t, func() bool { return waiters(&g, "k") == 1 })
	old := current(&g, "k")
	cancel()
	<-oldDone

	var calls atomic.Int32
	newCall := func(context.Context) (int, error) { calls.Add(1); <-releaseNew; return 2, nil }
	results := make(chan int, 2)
	go func() { v, _ := g.Do(context.Background(), "k", newCall); results <- v }()
	waitFor(t, func() bool { return waiters(&g, "k") == 1 })
	close(releaseOld)
	<-old.done // the old call has finished and cleaned up after itself

	go func() { v, _ := g.Do(context.Background(), "k", newCall); results <- v }()
	waitFor(t, func() bool { return waiters(&g, "k") == 2 })
	close(releaseNew)
	for range 2 {
		if v := <-results; v != 2 {
			t.Errorf("result %d, want the new call's 2", v)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d new calls ran, want 1 shared by both callers", n)
	}
}

func current[T any](g *Group[T], key string) *call[T] {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls[key]
}
