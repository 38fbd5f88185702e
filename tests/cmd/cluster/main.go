// Command cluster runs the end-to-end tests' Kubernetes control plane,
// kube-apiserver and etcd with the Knative CRDs, until interrupted.
//
// Usage, from the tests module:
//
//	KUBEBUILDER_ASSETS=/path/to/bin go run ./cmd/cluster [-kubeconfig file]
//
// It writes an admin kubeconfig to the file, or to a temporary file that it
// removes on exit, and prints how to use it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/knative-eventmesh/function/tests/cluster"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

func main() {
	// Not flag.CommandLine: controller-runtime, under envtest, defines
	// a -kubeconfig flag there.
	flags := flag.NewFlagSet(os.Args[0], flag.ExitOnError)
	kubeconfig := flags.String("kubeconfig", "", "write the admin kubeconfig to `file` (default a temporary file)")
	flags.Parse(os.Args[1:])
	ctrllog.SetLogger(logr.Discard()) // envtest's log; errors are returned anyway
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, stop, *kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

// run starts the cluster and stops it once ctx is done. It calls
// stopSignals then, so that a second interrupt kills the command.
func run(ctx context.Context, stopSignals func(), kubeconfig string) (err error) {
	start := time.Now()
	c, err := cluster.Start(ctx, cluster.Options{})
	if err != nil {
		return err
	}
	defer func() {
		start := time.Now()
		err = errors.Join(err, c.Stop())
		fmt.Printf("stopped in %v\n", time.Since(start).Round(time.Millisecond))
	}()
	fmt.Printf("started in %v; logs in %s\n", time.Since(start).Round(time.Millisecond), c.LogPath())

	if kubeconfig == "" {
		f, err := os.CreateTemp("", "kubeconfig-")
		if err != nil {
			return err
		}
		f.Close()
		kubeconfig = f.Name()
		defer os.Remove(kubeconfig)
	}
	if kubeconfig, err = filepath.Abs(kubeconfig); err != nil {
		return err
	}
	if err := c.WriteKubeconfig(kubeconfig, nil); err != nil {
		return err
	}
	fmt.Printf("\n\texport KUBECONFIG=%s\n\tkubectl get crds\n\nPress Ctrl-C to stop.\n", kubeconfig)

	<-ctx.Done()
	stopSignals()
	fmt.Println("stopping")
	return nil
}
