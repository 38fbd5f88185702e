package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/knative-eventmesh/function/tests/onenode"
)

// The sandbox: the whole node runs in network, mount and PID namespaces
// of its own, created by start. Its first process is `knative init`,
// which sets the namespaces up, runs `knative up`, and reaps orphans.
// When it dies, the kernel kills every process of the sandbox, and the
// namespaces go with their mounts and network links.
//
// The host gains only what is named after the sandbox (-name, "knative"
// by default): one veth link, emesh-NAME, with a route to the Service
// range through it, and cgroups under eventmesh-NAME.
const (
	// nodeIP is the node's address, on the sandbox's loopback: no route
	// of the host leads there, so the kubelet is reached only from
	// inside.
	nodeIP     = "10.243.254.2"
	serviceNet = "10.96.0.0/16"
	// cniCache is where the CNI library caches its results; the sandbox
	// mounts a tmpfs of its own there.
	cniCache = "/var/lib/cni"
)

// linkName is the host's end of the veth pair into the sandbox; its
// other end is the sandbox's eth0.
func (o options) linkName() string { return "emesh-" + o.name }

// cgroupName is the cgroup, in each hierarchy, that holds every process
// of the sandbox: the node's in sandbox/, the pods' in kubepods/ (the
// kubelet's cgroupRoot).
func (o options) cgroupName() string { return "eventmesh-" + o.name }

// vethAddrs are the addresses of the veth pair's ends: the host's and
// the sandbox's, where the host reaches the API server.
type vethAddrs struct {
	host, sandbox net.IP
	prefix        int
}

// sandboxNet checks the sandbox's name and returns its link's addresses,
// the first two of -veth-net.
func (o options) sandboxNet() (vethAddrs, error) {
	if len(o.linkName()) > 15 || !validName(o.name) {
		return vethAddrs{}, fmt.Errorf("-name %q: want 1 to 9 lower-case letters or digits", o.name)
	}
	_, n, err := net.ParseCIDR(o.vethNet)
	if err != nil || n.IP.To4() == nil {
		return vethAddrs{}, fmt.Errorf("-veth-net %q: want an IPv4 network such as 10.243.255.0/30", o.vethNet)
	}
	prefix, _ := n.Mask.Size()
	if prefix > 30 {
		return vethAddrs{}, fmt.Errorf("-veth-net %q: want a /30 or larger, for two addresses", o.vethNet)
	}
	base := n.IP.To4()
	host := net.IPv4(base[0], base[1], base[2], base[3]+1)
	sandbox := net.IPv4(base[0], base[1], base[2], base[3]+2)
	return vethAddrs{host: host, sandbox: sandbox, prefix: prefix}, nil
}

func validName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// sandboxIP is where the host reaches the sandbox.
func (o options) sandboxIP() string {
	a, _ := o.sandboxNet() // checked in main
	return a.sandbox.String()
}

// kernelTunables are the host-wide sysctls the kubelet wants. The
// sandbox shows it these values, bound over /proc/sys in its mount
// namespace, so that the host keeps its own; the kubelet checks them
// (protectKernelDefaults) and writes none.
var kernelTunables = map[string]string{
	"vm/overcommit_memory":      "1",
	"vm/panic_on_oom":           "0",
	"kernel/panic":              "10",
	"kernel/panic_on_oops":      "1",
	"kernel/keys/root_maxkeys":  "1000000",
	"kernel/keys/root_maxbytes": "25000000",
}

// sandboxRecord names the sandbox's first process so that down finds
// it, and only it: a pid alone could be another process after a reboot.
type sandboxRecord struct {
	PID       int    `json:"pid"`
	StartTime string `json:"startTime"` // field 22 of /proc/<pid>/stat
	BootID    string `json:"bootID"`
	// CreatedCNICache says the sandbox created cniCache on the host,
	// for down to remove it.
	CreatedCNICache bool `json:"createdCNICache"`
}

// recordPath is where start writes the sandboxRecord.
func (o options) recordPath() string { return o.path("sandbox.json") }

// spawnSandbox starts `knative init`, from the copy in the state folder,
// in new namespaces and a session of its own, its output to log, then
// creates the veth pair into it. It writes the record before anything
// else of the host changes.
func spawnSandbox(o options, args []string, log *os.File) (*os.Process, error) {
	_, statErr := os.Stat(cniCache)
	cmd := exec.Command(o.path("eventmesh-knative"), append([]string{"init"}, args...)...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setsid:     true,
		Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNET | syscall.CLONE_NEWNS,
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the sandbox: %w", err)
	}
	rec := sandboxRecord{PID: cmd.Process.Pid, CreatedCNICache: errors.Is(statErr, os.ErrNotExist)}
	var err error
	if rec.StartTime, err = startTime(rec.PID); err == nil {
		rec.BootID, err = bootID()
	}
	if err == nil {
		err = writeJSON(o.recordPath(), rec)
	}
	if err == nil {
		err = hostLink(o, rec.PID)
	}
	if err != nil {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
		return nil, err
	}
	return cmd.Process, nil
}

// hostLink creates the veth pair, its sandbox end in the namespace of
// pid, and routes the Service range through it (unless -route-services
// is false).
func hostLink(o options, pid int) error {
	a, err := o.sandboxNet()
	if err != nil {
		return err
	}
	link := o.linkName()
	steps := [][]string{
		{"ip", "link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", strconv.Itoa(pid)},
		{"ip", "addr", "add", fmt.Sprintf("%s/%d", a.host, a.prefix), "dev", link},
		{"ip", "link", "set", link, "up"},
	}
	if o.routeServices {
		steps = append(steps, []string{"ip", "route", "add", serviceNet, "via", a.sandbox.String(), "dev", link})
	}
	for _, s := range steps {
		if err := run(s...); err != nil {
			return fmt.Errorf("connecting the host to the sandbox: %w", err)
		}
	}
	return nil
}

// sandboxInit is the sandbox's first process: it sets the namespaces up,
// runs `knative up` with args, passes it SIGTERM and SIGINT, reaps every
// orphan, and exits with up's status.
func sandboxInit(o options, args []string) error {
	if os.Getpid() != 1 {
		return errors.New("knative init runs only as a sandbox's first process: use knative start")
	}
	if err := setupMounts(o); err != nil {
		return err
	}
	if err := joinCgroup(o.cgroupName()); err != nil {
		return err
	}
	if err := setupNetwork(o); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	child, err := os.StartProcess(self, append([]string{self, "up"}, args...), &os.ProcAttr{
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
	})
	if err != nil {
		return fmt.Errorf("starting knative up: %w", err)
	}
	go func() {
		for s := range sigs {
			_ = child.Signal(s)
		}
	}()
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("waiting for knative up: %w", err)
		}
		if pid == child.Pid {
			if status.ExitStatus() != 0 {
				return fmt.Errorf("knative up: %v", exitDescription(status))
			}
			return nil
		}
	}
}

func exitDescription(s syscall.WaitStatus) string {
	if s.Signaled() {
		return "killed by " + s.Signal().String()
	}
	return "exit status " + strconv.Itoa(s.ExitStatus())
}

// setupMounts makes the sandbox's mounts its own: none goes back to the
// host. It mounts a /proc of the PID namespace, a /run of its own (for
// containerd's and runc's state and the pods' network namespaces), a
// tmpfs over the CNI cache, and the kubelet's kernel tunables.
func setupMounts(o options) error {
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making the sandbox's mounts private: %w", err)
	}
	if err := syscall.Mount("proc", "/proc", "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mounting the sandbox's /proc: %w", err)
	}
	if err := os.MkdirAll(cniCache, 0o700); err != nil {
		return err
	}
	for _, dir := range []string{"/run", cniCache} {
		if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=755"); err != nil {
			return fmt.Errorf("mounting a tmpfs on %s: %w", dir, err)
		}
	}
	dir := o.path("state", "sysctl")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for key, value := range kernelTunables {
		file := filepath.Join(dir, strings.ReplaceAll(key, "/", "."))
		if err := os.WriteFile(file, []byte(value+"\n"), 0o644); err != nil {
			return err
		}
		if err := syscall.Mount(file, filepath.Join("/proc/sys", key), "", syscall.MS_BIND, ""); err != nil {
			return fmt.Errorf("binding the sandbox's %s: %w", key, err)
		}
	}
	return nil
}

// joinCgroup creates cgroup/sandbox in every hierarchy and moves this
// process there, so that everything the sandbox starts is found under
// cgroup.
func joinCgroup(cgroup string) error {
	hs, err := onenode.CgroupHierarchies()
	if err != nil {
		return err
	}
	for _, h := range hs {
		parent := h
		for _, name := range []string{cgroup, "sandbox"} {
			dir := filepath.Join(parent, name)
			if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				return fmt.Errorf("creating cgroup %s: %w", dir, err)
			}
			if err := inheritCpuset(parent, dir); err != nil {
				return err
			}
			parent = dir
		}
		if err := os.WriteFile(filepath.Join(parent, "cgroup.procs"), []byte("0"), 0o644); err != nil {
			return fmt.Errorf("joining cgroup %s: %w", parent, err)
		}
	}
	return nil
}

// inheritCpuset copies a cgroup v1 cpuset's cpus and mems to its new
// child, which takes no process without them.
func inheritCpuset(parent, child string) error {
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		data, err := os.ReadFile(filepath.Join(parent, f))
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(child, f), data, 0o644); err != nil {
			return fmt.Errorf("setting %s of %s: %w", f, child, err)
		}
	}
	return nil
}

// setupNetwork waits for start's veth end, addresses it, and puts the
// node's address on the loopback (the kernel here may lack dummy links).
func setupNetwork(o options) error {
	a, err := o.sandboxNet()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := net.InterfaceByName("eth0"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("the host's end of the sandbox's link did not come in 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	steps := [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "addr", "add", fmt.Sprintf("%s/%d", a.sandbox, a.prefix), "dev", "eth0"},
		{"ip", "link", "set", "eth0", "up"},
		{"ip", "addr", "add", nodeIP + "/32", "dev", "lo"},
		// The sandbox has no default route: this one lets its own
		// programs (the API server calling a webhook) connect to a
		// Service, whose address kube-proxy then rewrites to a pod's.
		{"ip", "route", "add", serviceNet, "dev", "eth0"},
	}
	for _, s := range steps {
		if err := run(s...); err != nil {
			return fmt.Errorf("setting up the sandbox's network: %w", err)
		}
	}
	// The sandbox's own: it forwards from the host to the Services.
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		return fmt.Errorf("turning on forwarding in the sandbox: %w", err)
	}
	return nil
}

// startTime returns the start time of process pid, in clock ticks since
// boot. A zombie has exited: that is an error.
func startTime(pid int) (string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	// The command, field 2, is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return "", fmt.Errorf("reading /proc/%d/stat: no command", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 {
		return "", fmt.Errorf("reading /proc/%d/stat: %d fields", pid, len(f))
	}
	if f[0] == "Z" {
		return "", fmt.Errorf("process %d has exited", pid)
	}
	return f[19], nil
}

func bootID() (string, error) {
	data, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", fmt.Errorf("reading the boot id: %w", err)
	}
	return strings.TrimSpace(string(data)), nil
}

// readRecord reads the sandboxRecord; it returns nil when there is none.
func readRecord(o options) (*sandboxRecord, error) {
	data, err := os.ReadFile(o.recordPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rec sandboxRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("reading %s: %w", o.recordPath(), err)
	}
	return &rec, nil
}

// running says whether the recorded process still runs: same boot, same
// pid, same start time.
func (r *sandboxRecord) running() bool {
	if r == nil {
		return false
	}
	boot, err := bootID()
	if err != nil || boot != r.BootID {
		return false
	}
	st, err := startTime(r.PID)
	return err == nil && st == r.StartTime
}

// run runs a command; its error includes its output.
func run(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}
