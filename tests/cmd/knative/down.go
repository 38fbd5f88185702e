package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/knative-eventmesh/function/tests/onenode"
)

// stopTimeout bounds the wait for up to stop the cluster gracefully;
// then the sandbox is killed.
const stopTimeout = 2 * time.Minute

// down stops the sandbox and removes what start created, each found by
// its name: the sandbox's processes (by the recorded first process, and
// by its cgroup), its link, the cgroups, the CNI
// cache folder if start created it, and the state but for the logs. It
// works after a crash and after a reboot. Then it compares the host with
// its state before the start and reports what differs, without changing
// it: someone else may have made those changes.
func down(ctx context.Context, o options) error {
	if os.Geteuid() != 0 {
		return errors.New("make knative-down needs root, as make knative did")
	}
	rec, err := readRecord(o)
	if err != nil {
		return err
	}
	if rec.running() {
		if err := stopSandbox(ctx, rec.PID); err != nil {
			return err
		}
	}
	cgroup := o.cgroupName()
	var errs []error
	errs = append(errs, killCgroup(ctx, cgroup))
	errs = append(errs, removeLink(ctx, o.linkName()))
	errs = append(errs, onenode.RemoveCgroups(cgroup))
	if rec != nil && rec.CreatedCNICache {
		// Empty on the host: the sandbox had a tmpfs of its own there.
		if err := os.Remove(cniCache); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("removing %s, which make knative created: %w", cniCache, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w\nrun make knative-down again; the cluster's processes are in cgroup %s", err, cgroup)
	}
	if err := leftovers(o); err != nil {
		return err
	}
	for _, p := range []string{o.path("state"), o.path("ready"), o.path("kubeconfig"), o.path("podprobe-image")} {
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	reportHost(o)
	if err := os.Remove(o.recordPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	fmt.Printf("stopped: no process, mount, link or cgroup of the cluster is left; its logs are in %s\n", o.path("runs"))
	return nil
}

// stopSandbox sends SIGTERM to the sandbox's first process, which passes
// it to up, and waits for it to exit; after stopTimeout it kills it, and
// with it, the kernel kills every process of the sandbox.
func stopSandbox(ctx context.Context, pid int) error {
	start, err := startTime(pid)
	if err != nil {
		return nil // gone already
	}
	same := func() bool {
		st, err := startTime(pid)
		return err == nil && st == start
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return nil // gone already
	}
	fmt.Printf("stopping the cluster (sandbox pid %d)\n", pid)
	if gone, err := waitWhile(ctx, same, stopTimeout); gone || err != nil {
		return err
	}
	fmt.Printf("the cluster did not stop in %v: killing its sandbox\n", stopTimeout)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	if gone, err := waitWhile(ctx, same, time.Minute); gone || err != nil {
		return err
	}
	return fmt.Errorf("the sandbox's first process (pid %d) survives SIGKILL", pid)
}

// waitWhile waits up to timeout while cond holds; it says whether cond
// stopped holding.
func waitWhile(ctx context.Context, cond func() bool, timeout time.Duration) (bool, error) {
	deadline := time.Now().Add(timeout)
	for cond() {
		if time.Now().After(deadline) {
			return false, nil
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return false, err
		}
	}
	return true, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// cgroupProcs lists the processes in cgroup.
func cgroupProcs(cgroup string) ([]int, error) {
	dirs, err := onenode.CgroupDirs(cgroup)
	if err != nil {
		return nil, err
	}
	seen := map[int]bool{}
	var pids []int
	for _, d := range dirs {
		f, err := os.Open(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if pid, err := strconv.Atoi(sc.Text()); err == nil && !seen[pid] {
				seen[pid] = true
				pids = append(pids, pid)
			}
		}
		f.Close()
	}
	return pids, nil
}

// killCgroup kills every process in cgroup, and waits up to a minute
// until none is left. After the sandbox's first process is gone, none
// should be.
func killCgroup(ctx context.Context, cgroup string) error {
	for range 300 {
		pids, err := cgroupProcs(cgroup)
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	pids, _ := cgroupProcs(cgroup)
	return fmt.Errorf("processes %v of cgroup %s survive SIGKILL", pids, cgroup)
}

// removeLink waits up to 30 seconds for the kernel to remove the link
// with the sandbox's network namespace, then deletes it by name.
func removeLink(ctx context.Context, link string) error {
	for range 150 {
		if _, err := net.InterfaceByName(link); err != nil {
			return nil
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	return run("ip", "link", "delete", link)
}

// leftovers checks that nothing of the cluster is left on the host: no
// process or folder in its cgroup, no link, no mount under the state
// folder.
func leftovers(o options) error {
	var found []string
	cgroup := o.cgroupName()
	if pids, err := cgroupProcs(cgroup); err != nil || len(pids) > 0 {
		found = append(found, fmt.Sprintf("processes %v in cgroup %s (%v)", pids, cgroup, err))
	}
	if dirs, err := onenode.CgroupDirs(cgroup); err != nil || len(dirs) > 0 {
		found = append(found, fmt.Sprintf("cgroups %v (%v)", dirs, err))
	}
	if _, err := net.InterfaceByName(o.linkName()); err == nil {
		found = append(found, "link "+o.linkName())
	}
	mounts, err := onenode.MountPoints()
	if err != nil {
		return err
	}
	for _, m := range mounts {
		if m == o.state || strings.HasPrefix(m, o.state+"/") {
			found = append(found, "mount "+m)
		}
	}
	if len(found) > 0 {
		return fmt.Errorf("left of the cluster on the host:\n  %s", strings.Join(found, "\n  "))
	}
	return nil
}

// reportHost compares the host with its state before the start and
// prints what differs. It changes nothing: the cluster's own changes are
// gone with its sandbox, so these are someone else's.
func reportHost(o options) {
	before, err := onenode.LoadHostState(o.path("host.json"))
	if err != nil {
		return // no state saved: nothing to compare
	}
	diffs, err := before.Diff()
	if err != nil {
		fmt.Fprintln(os.Stderr, "comparing the host with before the start:", err)
		return
	}
	if len(diffs) > 0 {
		fmt.Printf("the host changed during the run, not by the cluster (left as it is):\n  %s\n", strings.Join(diffs, "\n  "))
	}
	_ = os.Remove(o.path("host.json"))
}
