package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/knative-eventmesh/function/tests/onenode"
)

// stopTimeout bounds the wait for up to stop the cluster and restore the
// host.
const stopTimeout = 3 * time.Minute

// down stops the cluster that up runs, waits for it, and checks that the
// host is as it was before the start.
func down(ctx context.Context, o options) error {
	if _, err := os.Stat(o.path("host.json")); errors.Is(err, os.ErrNotExist) {
		fmt.Println("no cluster runs")
		return nil
	}
	if err := stopUp(ctx, o); err != nil {
		return err
	}
	host, err := onenode.LoadHostState(o.path("host.json"))
	if err != nil {
		return err
	}
	diffs, err := host.Diff()
	if err != nil {
		return err
	}
	if len(diffs) > 0 {
		// Try once more: up may have been killed before it restored.
		if err := host.Restore(); err != nil {
			fmt.Fprintln(os.Stderr, "restoring the host:", err)
		}
		if diffs, err = host.Diff(); err != nil {
			return err
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("the host differs from before the start:\n  %s", strings.Join(diffs, "\n  "))
	}
	if err := os.Remove(o.path("host.json")); err != nil {
		return err
	}
	fmt.Println("stopped; the host's sysctls, nftables ruleset, mounts, network links and namespaces are as before the start")
	return nil
}

// stopUp sends SIGTERM to up and waits for it to exit.
func stopUp(ctx context.Context, o options) error {
	data, err := os.ReadFile(o.path("pid"))
	if errors.Is(err, os.ErrNotExist) {
		return nil // up has stopped already
	}
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return fmt.Errorf("reading %s: %w", o.path("pid"), err)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return nil // not running
	}
	deadline := time.Now().Add(stopTimeout)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			return fmt.Errorf("knative up (pid %d) did not stop in %v; see %s", pid, stopTimeout, o.path("knative.log"))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return nil
}
