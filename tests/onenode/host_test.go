package onenode

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// isolatedEnv is set in the environment of TestDiff's own run in new
// namespaces.
const isolatedEnv = "EVENTMESH_ONENODE_ISOLATED"

// TestDiff changes the host as someone else might while a cluster runs
// (a sysctl, a bridge, a network namespace, an nftables table, a mount),
// then checks that Diff sees each change, and none once they are undone.
// It runs in network and mount namespaces of its own, so that its
// changes never touch what else runs here (such as make knative's
// cluster). It needs root, ip and nft, and skips without them.
func TestDiff(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	for _, cmd := range []string{"ip", "nft", "mount"} {
		if _, err := exec.LookPath(cmd); err != nil {
			t.Skipf("needs %s", cmd)
		}
	}
	if os.Getenv(isolatedEnv) == "" {
		runIsolated(t)
		return
	}
	// The named network namespaces are files of the host's /run/netns:
	// hide them behind a folder of this mount namespace's own.
	if err := os.MkdirAll(netnsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "tmpfs", netnsDir).CombinedOutput(); err != nil {
		t.Fatalf("mounting /run/netns: %v: %s", err, out)
	}
	before, err := SnapshotHost()
	if err != nil {
		t.Fatal(err)
	}

	const sysctl = "net/ipv4/conf/all/route_localnet"
	old := strings.TrimSpace(before.Sysctls[sysctl])
	flipped := map[string]string{"0": "1", "1": "0"}[old]
	if flipped == "" {
		t.Fatalf("sysctl %s = %q, want 0 or 1", sysctl, old)
	}
	mnt := t.TempDir()
	runAll(t, [][]string{
		{"sh", "-c", "echo " + flipped + " > " + filepath.Join(sysctlRoot, sysctl)},
		{"ip", "link", "add", "emtest0", "type", "bridge"},
		{"ip", "netns", "add", "eventmesh-test"},
		{"nft", "add", "table", "inet", "eventmesh_test"},
		{"mount", "-t", "tmpfs", "tmpfs", mnt},
	})

	diffs, err := before.Diff()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"sysctl " + sysctl, "new network link emtest0", "new network namespace eventmesh-test", "the nftables ruleset differs", "new mount " + mnt} {
		if !slices.ContainsFunc(diffs, func(d string) bool { return strings.HasPrefix(d, want) }) {
			t.Errorf("Diff lacks %q; it says:\n%s", want, strings.Join(diffs, "\n"))
		}
	}

	runAll(t, [][]string{
		{"umount", mnt},
		{"nft", "delete", "table", "inet", "eventmesh_test"},
		{"ip", "netns", "delete", "eventmesh-test"},
		{"ip", "link", "delete", "emtest0"},
		{"sh", "-c", "echo " + old + " > " + filepath.Join(sysctlRoot, sysctl)},
	})
	if diffs, err = before.Diff(); err != nil {
		t.Fatal(err)
	}
	if len(diffs) > 0 {
		t.Errorf("with the changes undone the host still differs:\n%s", strings.Join(diffs, "\n"))
	}
}

// runAll runs each command, and fails the test at the first error.
func runAll(t *testing.T, cmds [][]string) {
	t.Helper()
	for _, c := range cmds {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", c, err, out)
		}
	}
}

// runIsolated runs TestDiff again, in a child process with network and
// mount namespaces of its own (Go makes its mounts private).
func runIsolated(t *testing.T) {
	t.Helper()
	// The child mounts a folder of its own over /run/netns; the folder
	// itself is the host's.
	if !exists(netnsDir) {
		t.Cleanup(func() { _ = os.Remove(netnsDir) })
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDiff$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), isolatedEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	if errors.Is(err, syscall.EPERM) {
		t.Skipf("new network and mount namespaces are not allowed here: %v", err)
	}
	if err != nil {
		t.Fatalf("TestDiff in namespaces of its own: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestDiff") {
		t.Fatalf("TestDiff did not pass in namespaces of its own:\n%s", out)
	}
}

// TestVolatile checks which sysctls are left out of the snapshot.
func TestVolatile(t *testing.T) {
	for key, want := range map[string]bool{
		"kernel/ns_last_pid":                   true,
		"kernel/random/uuid":                   true,
		"fs/file-max":                          true,
		"net/netfilter/nf_conntrack_count":     true,
		"net/ipv4/ip_forward":                  false,
		"kernel/panic":                         false,
		"kernel/ns_last_pid_not":               false,
		"net/netfilter/nf_conntrack_tcp_loose": false,
	} {
		if got := volatile(key); got != want {
			t.Errorf("volatile(%q) = %v, want %v", key, got, want)
		}
	}
}
