package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// startTimeout bounds the wait for the cluster: images, cluster, Knative
// and func deploy took about three minutes here.
const startTimeout = 30 * time.Minute

// start runs `knative up` in the background, in a session of its own, its
// output to knative.log, which start prints as it grows. It returns once
// up has written the ready file, or has exited.
func start(ctx context.Context, o options, args []string) error {
	if err := os.MkdirAll(o.state, 0o755); err != nil {
		return err
	}
	logPath := o.path("knative.log")
	log, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer log.Close()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, append([]string{"up"}, args...)...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting knative up: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

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
			return fmt.Errorf("knative up exited (%v); its log: %s; make knative-down checks that the host is restored", err, logPath)
		case <-deadline:
			return fmt.Errorf("the cluster was not ready in %v; its log: %s; make knative-down stops it", startTimeout, logPath)
		case <-ctx.Done():
			return errors.New("interrupted; make knative-down stops the cluster")
		case <-time.After(time.Second):
		}
	}
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
