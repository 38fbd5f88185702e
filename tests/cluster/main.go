package cluster

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// Main runs a package's tests against one cluster. Call it from TestMain:
//
//	var testCluster *cluster.Cluster
//
//	func TestMain(m *testing.M) {
//		cluster.Main(m, cluster.Options{}, func(c *cluster.Cluster) error {
//			testCluster = c
//			return nil
//		})
//	}
//
// Main starts the cluster, calls setup (if not nil), runs the tests, stops
// the cluster and exits with the tests' status. If the cluster fails to
// start, Main prints the error, which ends with the last lines of the
// kube-apiserver log, and exits with status 1; so it does if setup fails.
// An interrupt or SIGTERM stops the cluster before exiting.
//
// Main discards controller-runtime's log, which envtest writes to, so that
// controller-runtime does not complain that no logger was set.
func Main(m *testing.M, opts Options, setup func(c *Cluster) error) {
	ctrllog.SetLogger(logr.Discard())
	os.Exit(run(m, opts, setup))
}

// run does the work of Main and returns the exit code.
func run(m *testing.M, opts Options, setup func(c *Cluster) error) int {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	c, err := Start(ctx, opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: starting the test cluster: %v\n", err)
		return 1
	}
	done := make(chan struct{})
	defer close(done) // before cancel
	go func() {
		select {
		case <-done:
		case <-ctx.Done():
			fmt.Fprintln(os.Stderr, "interrupted: stopping the test cluster")
			if err := c.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "stopping the test cluster: %v\n", err)
			}
			os.Exit(1)
		}
	}()

	if setup != nil {
		err = setup(c)
	}
	code := 1
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: setting up the test cluster: %v\n", err)
	} else {
		code = m.Run()
	}
	if err := c.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: stopping the test cluster: %v\n", err)
		code = 1
	}
	return code
}
