package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/knative-eventmesh/function/tests/onenode"
)

// startTimeout bounds the wait for the cluster: images, cluster, Knative
// and func deploy took about three minutes here.
const startTimeout = 30 * time.Minute

// start checks that no cluster runs here, copies this binary into the
// state folder (down runs that copy, even when the tree no longer
// builds), saves the host's state for down to compare with, and starts
// the sandbox, its output to this run's knative.log, which start prints
// as it grows. It returns once up has written the ready file, or the
// sandbox has exited.
func start(ctx context.Context, o options, args []string) error {
	if os.Geteuid() != 0 {
		return errors.New("make knative needs root: it creates namespaces and cgroups, and runs containerd and the kubelet")
	}
	rec, err := readRecord(o)
	if err != nil {
		return err
	}
	if rec.running() {
		return fmt.Errorf("a cluster of make knative runs here (sandbox pid %d); make knative-down stops it", rec.PID)
	}
	if rec != nil {
		return fmt.Errorf("a cluster of make knative was not stopped (%s): make knative-down removes what is left of it", o.recordPath())
	}
	if _, err := net.InterfaceByName(o.linkName()); err == nil {
		return fmt.Errorf("the host has a link %s already: a cluster of make knative runs from another folder; make knative-down there stops it", o.linkName())
	}
	// A ready file left by a crash must not pass for this run's.
	if err := os.Remove(o.path("ready")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	runDir := o.path("runs", time.Now().UTC().Format("20060102T150405Z"))
	if err := os.MkdirAll(filepath.Join(runDir, "logs"), 0o755); err != nil {
		return err
	}
	if err := copySelf(o.path("eventmesh-knative")); err != nil {
		return err
	}
	host, err := onenode.SnapshotHost()
	if err != nil {
		return err
	}
	if err := host.Save(o.path("host.json")); err != nil {
		return err
	}
	logPath := filepath.Join(runDir, "knative.log")
	log, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer log.Close()
	// The last run's log, where make knative's messages point.
	_ = os.Remove(o.path("knative.log"))
	if err := os.Symlink(logPath, o.path("knative.log")); err != nil {
		return err
	}
	o.logs = filepath.Join(runDir, "logs")
	sandbox, err := spawnSandbox(o, append(args, "-logs", o.logs), log)
	if err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() {
		state, err := sandbox.Wait()
		if err == nil && !state.Success() {
			err = errors.New(state.String())
		}
		exited <- err
	}()

	follow, err := os.Open(logPath)
	if err != nil {
		return err
	}
	defer follow.Close()
	lines := bufio.NewReader(follow)
	deadline := time.After(startTimeout)
	for {
		copyLines(lines)
		if _, err := os.Stat(o.path("ready")); err == nil {
			printUsage(o)
			return nil
		}
		select {
		case err := <-exited:
			copyLines(lines)
			return fmt.Errorf("the sandbox exited (%v); its log: %s; make knative-down removes what is left", err, logPath)
		case <-deadline:
			return fmt.Errorf("the cluster was not ready in %v; its log: %s; make knative-down stops it", startTimeout, logPath)
		case <-ctx.Done():
			return errors.New("interrupted; make knative-down stops the cluster")
		case <-time.After(time.Second):
		}
	}
}

// copySelf copies this program to path, for down to run.
func copySelf(path string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	data, err := os.ReadFile(self)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o755); err != nil {
		return fmt.Errorf("copying %s: %w", self, err)
	}
	return os.Rename(tmp, path)
}

// copyLines prints what the log holds beyond what it printed before.
func copyLines(r *bufio.Reader) {
	for {
		line, err := r.ReadString('\n')
		if err == io.EOF {
			// What was read of an unfinished line: print it too.
			fmt.Print(line)
			return
		}
		if err != nil {
			return
		}
		fmt.Print(line)
	}
}

// printUsage says how to use the cluster.
func printUsage(o options) {
	kc := o.path("kubeconfig")
	fmt.Println(strings.TrimSpace(fmt.Sprintf(`
The cluster runs, with the function deployed by func deploy.

  export KUBECONFIG=%s PATH=%s:$PATH
  kubectl get ksvc -n knative-eventing eventmesh

Call the function from a pod (it is cluster-local), as Backstage would:

  TOKEN=$(kubectl get secret eventmesh-reader-token -n knative-eventing -o jsonpath='{.data.token}' | base64 -d)
  kubectl run caller -n knative-eventing --restart=Never --image=$(cat %s) --env=TOKEN=$TOKEN -- get http://eventmesh.knative-eventing.svc.cluster.local/v1/getEventMesh
  kubectl wait -n knative-eventing --for=jsonpath='{.status.phase}'=Succeeded pod/caller
  kubectl logs -n knative-eventing caller
  kubectl delete pod -n knative-eventing caller

Watch it scale to zero after a minute without requests, and back:

  kubectl get pods -n knative-eventing -l serving.knative.dev/service=eventmesh -w

Announcements (push) go to the sink's log:

  kubectl logs -n eventmesh-sink deploy/sink -f

make test-knative runs the tests; make knative-down stops it all.`, kc, filepath.Dir(o.kubectl), o.path("podprobe-image"))))
}
