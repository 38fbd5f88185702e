package onenode

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/knative-eventmesh/function/tests/child"
)

// cgroupFS is where the cgroup hierarchies are mounted.
const cgroupFS = "/sys/fs/cgroup"

// A process is one of the cluster's programs, with its log.
type process struct {
	name string
	*child.Process
	log *os.File
}

// launch starts a program, its output to <name>.log in the log folder.
// The program dies with this process, even if this process is killed.
func (n *Node) launch(name, path string, args ...string) error {
	log, err := os.Create(filepath.Join(n.opts.LogDir, name+".log"))
	if err != nil {
		return fmt.Errorf("creating the log of %s: %w", name, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = log, log
	p, err := child.Start(cmd)
	if err != nil {
		log.Close()
		return err
	}
	n.procs = append(n.procs, &process{name: name, Process: p, log: log})
	return nil
}

// exited returns an error naming the first program that has exited.
func (n *Node) exited() error {
	for _, p := range n.procs {
		if err := p.Exited(); err != nil {
			return fmt.Errorf("%w (log %s)", err, p.log.Name())
		}
	}
	return nil
}

// stop stops a program: SIGTERM, then SIGKILL after grace (kube-apiserver's
// graceful shutdown can hang).
func (p *process) stop(grace time.Duration) {
	defer p.log.Close()
	_, _ = p.Stop(grace)
}

// Stop stops the cluster: the kubelet and the controllers first, then
// every pod's containers, containerd, kube-proxy (whose rules it then
// removes), CoreDNS, and last kube-apiserver before etcd. It removes the
// pods' cgroups.
func (n *Node) Stop() error {
	for _, name := range []string{"kube-scheduler", "kube-controller-manager", "kubelet"} {
		n.stopProcess(name, 10*time.Second)
	}
	errs := []error{n.killContainers()}
	for _, name := range []string{"containerd", "kube-proxy", "coredns", "kube-apiserver", "etcd"} {
		n.stopProcess(name, 15*time.Second)
	}
	if n.opts.Bin.Proxy != "" {
		// Removes kube-proxy's iptables chains; the host's restore
		// removes what it leaves behind.
		_, _ = run(n.opts.Bin.Proxy, "--cleanup")
	}
	errs = append(errs, RemoveCgroups(filepath.Join(n.opts.CgroupRoot, "kubepods")))
	return errors.Join(errs...)
}

// stopProcess stops the named program if it runs.
func (n *Node) stopProcess(name string, grace time.Duration) {
	for _, p := range n.procs {
		if p.name == name {
			p.stop(grace)
		}
	}
}

// killContainers kills every container of the pods and removes them, with
// containerd's ctr, while containerd still runs.
func (n *Node) killContainers() error {
	sock := n.path("run", "containerd.sock")
	if _, err := os.Stat(sock); err != nil {
		return nil
	}
	ctr := func(args ...string) (string, error) {
		return run("ctr", append([]string{"--address", sock, "--namespace", "k8s.io"}, args...)...)
	}
	out, err := ctr("tasks", "list", "--quiet")
	if err != nil {
		return err
	}
	tasks := strings.Fields(out)
	for _, id := range tasks {
		_, _ = ctr("tasks", "kill", "--signal", "SIGKILL", id)
	}
	var errs []error
	for _, id := range tasks {
		if err := waitForTaskExit(ctr, id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// waitForTaskExit deletes a killed task, trying for up to ten seconds.
func waitForTaskExit(ctr func(...string) (string, error), id string) error {
	var err error
	for range 20 {
		if _, err = ctr("tasks", "delete", "--force", id); err == nil || strings.Contains(err.Error(), "not found") {
			return nil
		}
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("removing container %s: %w", id, err)
}

// CgroupHierarchies lists the folders of the mounted cgroup v1
// hierarchies.
func CgroupHierarchies() ([]string, error) {
	entries, err := os.ReadDir(cgroupFS)
	if err != nil {
		return nil, fmt.Errorf("listing cgroup hierarchies: %w", err)
	}
	var dirs []string
	for _, e := range entries {
		p := filepath.Join(cgroupFS, e.Name())
		if _, err := os.Stat(filepath.Join(p, "cgroup.procs")); err == nil {
			dirs = append(dirs, p)
		}
	}
	return dirs, nil
}

// CgroupDirs lists the folders of the named cgroup (a path under each
// hierarchy's root) and its children, in every hierarchy, children
// first.
func CgroupDirs(name string) ([]string, error) {
	hs, err := CgroupHierarchies()
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, h := range hs {
		var tree []string
		_ = filepath.WalkDir(filepath.Join(h, name), func(path string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				tree = append(tree, path)
			}
			return nil
		})
		slices.Reverse(tree)
		dirs = append(dirs, tree...)
	}
	return dirs, nil
}

// RemoveCgroups removes the named cgroup, children first, from every
// hierarchy. The cgroups must be empty.
func RemoveCgroups(name string) error {
	dirs, err := CgroupDirs(name)
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range dirs {
		if err := syscall.Rmdir(d); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("removing cgroup %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}
