package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/knative-eventmesh/function/tests/onenode"
)

// crashFlagsEnv holds make knative's flags for the binaries, without
// -state; make test-knative sets it. Without it the crash test skips.
const crashFlagsEnv = "EVENTMESH_KNATIVE_CRASH_FLAGS"

// cgroupRoot is where the test looks for the cluster's cgroups, on its
// own rather than through the code under test.
const cgroupRoot = "/sys/fs/cgroup"

// The crash test's sandbox: its own name and link network, and no route
// of the Service range, so that it runs beside make knative's cluster.
var crashSandbox = []string{"-name", "crash", "-veth-net", "10.243.252.0/30", "-route-services=false"}

// TestCrashThenDown starts a cluster in a sandbox, and once a pod's
// container runs, kills the sandbox's first process with SIGKILL, as a
// crash would. Meanwhile it changes the host as someone else might: a
// link, a mount, an nftables table and a sysctl. down must then leave no
// process, mount, link or cgroup of the cluster, and leave the others'
// changes as they are.
func TestCrashThenDown(t *testing.T) {
	flags := strings.Fields(os.Getenv(crashFlagsEnv))
	if len(flags) == 0 {
		t.Skipf("%s is not set (make test-knative sets it)", crashFlagsEnv)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "eventmesh-knative")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building knative: %v\n%s", err, out)
	}
	state := filepath.Join(dir, "state")
	args := append(append([]string{"-state", state}, crashSandbox...), flags...)
	o := options{state: state, name: "crash"}

	startLog, err := os.Create(filepath.Join(dir, "start.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer startLog.Close()
	startCmd := exec.Command(bin, append([]string{"start"}, args...)...)
	startCmd.Stdout, startCmd.Stderr = startLog, startLog
	if err := startCmd.Start(); err != nil {
		t.Fatal(err)
	}
	startDone := make(chan error, 1)
	go func() { startDone <- startCmd.Wait() }()
	// Whatever happens, down runs once more at the end.
	t.Cleanup(func() { _ = exec.Command(bin, append([]string{"down"}, args...)...).Run() })

	if err := waitForContainer(o, startDone); err != nil {
		t.Fatalf("%v; start's output:\n%s", err, readTail(startLog.Name()))
	}
	rec, err := readRecord(o)
	if err != nil || rec == nil {
		t.Fatalf("the sandbox's record: %v, %v", rec, err)
	}
	pidNS, err1 := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid_for_children", rec.PID))
	netNS, err2 := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", rec.PID))
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("the sandbox's namespaces: %v", err)
	}
	others := othersChanges(t)
	procs, _ := cgroupProcs(o.cgroupName())
	t.Logf("killing the sandbox (pid %d) with %d processes in cgroup %s", rec.PID, len(procs), o.cgroupName())

	if err := syscall.Kill(rec.PID, syscall.SIGKILL); err != nil {
		t.Fatalf("killing the sandbox's first process: %v", err)
	}
	select {
	case <-startDone:
	case <-time.After(time.Minute):
		t.Fatal("start did not return within a minute of its sandbox's death")
	}
	out, err := exec.Command(bin, append([]string{"down"}, args...)...).CombinedOutput()
	t.Logf("down:\n%s", out)
	if err != nil {
		t.Fatalf("down after the crash: %v", err)
	}

	for _, left := range clusterLeftovers(o, pidNS, netNS) {
		t.Errorf("left after down: %s", left)
	}
	for _, c := range others {
		if !c.present() {
			t.Errorf("down undid someone else's change: %s", c.name)
		}
		if !strings.Contains(string(out), c.report) {
			t.Errorf("down does not report someone else's change %s (%q)", c.name, c.report)
		}
	}
}

// waitForContainer waits up to ten minutes for a process in the pods'
// cgroup of the sandbox: a container that runs.
func waitForContainer(o options, startDone <-chan error) error {
	pods := filepath.Join(cgroupRoot, "pids", o.cgroupName(), "kubepods")
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case err := <-startDone:
			return fmt.Errorf("start returned before a container ran: %v", err)
		case <-time.After(time.Second):
		}
		var found bool
		_ = filepath.WalkDir(pods, func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && d.Name() == "cgroup.procs" {
				data, _ := os.ReadFile(path)
				found = found || len(strings.TrimSpace(string(data))) > 0
			}
			return nil
		})
		if found {
			return nil
		}
	}
	return errors.New("no container ran in ten minutes")
}

// clusterLeftovers lists what of the sandbox is on the host: processes
// in its PID or network namespace, or with the state folder on their
// command line, its cgroups, its link, mounts under its state folder,
// its record.
func clusterLeftovers(o options, pidNS, netNS string) []string {
	var left []string
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		pid, _ := strconv.Atoi(filepath.Base(p))
		ns1, _ := os.Readlink(filepath.Join(p, "ns", "pid"))
		ns2, _ := os.Readlink(filepath.Join(p, "ns", "net"))
		cmdline, _ := os.ReadFile(filepath.Join(p, "cmdline"))
		if ns1 == pidNS || ns2 == netNS || strings.Contains(string(cmdline), o.state) {
			left = append(left, fmt.Sprintf("process %d (%s)", pid, strings.ReplaceAll(string(cmdline), "\x00", " ")))
		}
	}
	cgroups, _ := filepath.Glob(filepath.Join(cgroupRoot, "*", o.cgroupName()))
	for _, c := range cgroups {
		left = append(left, "cgroup "+c)
	}
	if _, err := net.InterfaceByName(o.linkName()); err == nil {
		left = append(left, "link "+o.linkName())
	}
	mounts, _ := onenode.MountPoints()
	for _, m := range mounts {
		if strings.HasPrefix(m, o.state) {
			left = append(left, "mount "+m)
		}
	}
	if _, err := os.Stat(o.recordPath()); err == nil {
		left = append(left, "record "+o.recordPath())
	}
	return left
}

// A hostChange is a change to the host that is not the cluster's.
type hostChange struct {
	name    string
	report  string // what down's report of it starts with
	present func() bool
}

// othersChanges changes the host as someone else might while the cluster
// runs: a bridge, a tmpfs mount, an nftables table, a sysctl. The test's
// cleanup undoes them.
func othersChanges(t *testing.T) []hostChange {
	t.Helper()
	const link, table, sysctl = "emtest-other", "eventmesh_other", "net/ipv4/conf/all/route_localnet"
	mnt := t.TempDir()
	sysctlPath := filepath.Join("/proc/sys", sysctl)
	old, err := os.ReadFile(sysctlPath)
	if err != nil {
		t.Fatal(err)
	}
	flipped := map[string]string{"0": "1", "1": "0"}[strings.TrimSpace(string(old))]
	steps := []struct{ do, undo []string }{
		{[]string{"ip", "link", "add", link, "type", "bridge"}, []string{"ip", "link", "delete", link}},
		{[]string{"mount", "-t", "tmpfs", "tmpfs", mnt}, []string{"umount", mnt}},
		{[]string{"nft", "add", "table", "inet", table}, []string{"nft", "delete", "table", "inet", table}},
		{[]string{"sh", "-c", "echo " + flipped + " > " + sysctlPath}, []string{"sh", "-c", "echo " + strings.TrimSpace(string(old)) + " > " + sysctlPath}},
	}
	for _, s := range steps {
		if out, err := exec.Command(s.do[0], s.do[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", s.do, err, out)
		}
		t.Cleanup(func() { _ = exec.Command(s.undo[0], s.undo[1:]...).Run() })
	}
	return []hostChange{
		{name: "link " + link, report: "new network link " + link, present: func() bool {
			_, err := net.InterfaceByName(link)
			return err == nil
		}},
		{name: "mount " + mnt, report: "new mount " + mnt, present: func() bool {
			mounts, _ := onenode.MountPoints()
			return slices.Contains(mounts, mnt)
		}},
		{name: "nftables table " + table, report: "the nftables ruleset differs", present: func() bool {
			return exec.Command("nft", "list", "table", "inet", table).Run() == nil
		}},
		{name: "sysctl " + sysctl, report: "sysctl " + sysctl, present: func() bool {
			now, _ := os.ReadFile(sysctlPath)
			return strings.TrimSpace(string(now)) == flipped
		}},
	}
}

// readTail returns the last 4000 bytes of a file.
func readTail(path string) string {
	data, _ := os.ReadFile(path)
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return string(data)
}
