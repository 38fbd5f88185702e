// Command run serves the function on :8080, as `make run` does.
//
// With KUBECONFIG set it serves that cluster and starts nothing else.
// Without it, it starts a local kube-apiserver with the Knative CRDs,
// applies rbac/ and a demo mesh, and prints a token of the Backstage reader,
// a curl line and the Backstage configuration. Push is on: Eventing's
// ApiServerSource adapter watches the local cluster, and a local sink
// prints each announcement. Ctrl-C stops everything.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	fhttp "knative.dev/func-go/http"

	function "github.com/knative-eventmesh/function"
	"github.com/knative-eventmesh/function/tests/catalog"
	"github.com/knative-eventmesh/function/tests/cluster"
	"github.com/knative-eventmesh/function/tests/demo"
)

func main() {
	addr := flag.String("addr", ":8080", "address to serve the function on")
	rbacDir := flag.String("rbac", filepath.Join("..", "rbac"), "the rbac/ kustomization to apply to the local cluster")
	backstagePort := flag.Int("backstage", 0, "also start a Backstage backend with backstage/'s provider on this port of 127.0.0.1, and push to it (make run-backstage)")
	flag.Parse()
	if err := run(*addr, *rbacDir, *backstagePort); err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		os.Exit(1)
	}
}

func run(addr, rbacDir string, backstagePort int) error {
	if err := os.Setenv("LISTEN_ADDRESS", addr); err != nil {
		return err
	}
	if os.Getenv("KUBECONFIG") != "" {
		fmt.Printf("Serving the cluster of KUBECONFIG=%s on %s\n", os.Getenv("KUBECONFIG"), addr)
		return serve(context.Background())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "eventmesh-run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	fmt.Println("Starting a local Kubernetes API server with the Knative CRDs...")
	c, err := cluster.Start(ctx, cluster.Options{})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Println("Stopping the local API server...")
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping:", err)
		}
	}()
	tok, err := setup(ctx, c, dir, rbacDir)
	if err != nil {
		return err
	}
	admin, err := c.AdminKubeconfig()
	if err != nil {
		return err
	}
	functionURL := "http://localhost" + addr
	if _, port, err := net.SplitHostPort(addr); err == nil {
		functionURL = "http://localhost:" + port
	}
	env := map[string]string{}
	sink, watch := "", "  Change the mesh with kubectl, and watch push announce it below ([sink]):"
	if backstagePort != 0 {
		// The ingress takes the function's announcements with this secret only.
		secret, err := pushSecret()
		if err != nil {
			return err
		}
		env["PUSH_SECRET"] = secret
		backend, logPath, err := startBackstage(ctx, backstagePort, functionURL, tok, secret, dir)
		if err != nil {
			return err
		}
		defer func() {
			fmt.Println("Stopping the Backstage backend...")
			if _, err := backend.Stop(5 * time.Second); err != nil {
				fmt.Fprintln(os.Stderr, "stopping:", err)
			}
		}()
		sink = catalog.IngressURL(backstagePort)
		watch = backstageHelp(backend, backstagePort, logPath)
	}
	stopPush, err := startPush(ctx, c, rbacDir, functionURL, sink, env)
	if err != nil {
		return fmt.Errorf("starting push: %w", err)
	}
	defer stopPush()
	for k, v := range env {
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	printHelp(functionURL, tok, admin, watch)
	go resync(ctx, functionURL)
	return serve(ctx)
}

// setup applies rbac/ and the demo mesh, points KUBECONFIG at the
// function's own ServiceAccount, and returns the Backstage reader's token.
func setup(ctx context.Context, c *cluster.Cluster, dir, rbacDir string) (string, error) {
	if err := c.InstallRBAC(ctx, rbacDir); err != nil {
		return "", err
	}
	if err := c.Apply(ctx, demo.YAML); err != nil {
		return "", fmt.Errorf("applying the demo mesh: %w", err)
	}
	own, err := c.Token(ctx, "knative-eventing", "eventmesh", 24*time.Hour)
	if err != nil {
		return "", err
	}
	cfg := rest.AnonymousClientConfig(c.Config())
	cfg.BearerToken = own
	kubeconfig := filepath.Join(dir, "function.kubeconfig")
	if err := c.WriteKubeconfig(kubeconfig, cfg); err != nil {
		return "", err
	}
	if err := os.Setenv("KUBECONFIG", kubeconfig); err != nil {
		return "", err
	}
	return readerToken(ctx, c)
}

// readerToken waits for the token controller to fill the reader's token
// Secret, as the README tells a platform engineer to read it.
func readerToken(ctx context.Context, c *cluster.Cluster) (string, error) {
	client, err := kubernetes.NewForConfig(c.Config())
	if err != nil {
		return "", err
	}
	var secret *corev1.Secret
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		secret, err = client.CoreV1().Secrets("knative-eventing").Get(ctx, "eventmesh-reader-token", metav1.GetOptions{})
		return err == nil && len(secret.Data["token"]) > 0, nil
	})
	if err != nil {
		return "", fmt.Errorf("waiting for the reader's token Secret: %w", err)
	}
	return string(secret.Data["token"]), nil
}

// serve runs the function as func's scaffolding does, until ctx ends or
// the process is told to stop.
func serve(ctx context.Context) error {
	err := fhttp.New(function.New()).Start(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func printHelp(url, tok, admin, watch string) {
	fmt.Printf(`
The function serves a demo event mesh at %[1]s

  Token of the Backstage reader ServiceAccount (knative-eventing/eventmesh-reader):
    export KNATIVE_EVENT_MESH_TOKEN=%[2]s

  Try it:
    curl -s -H "Authorization: Bearer $KNATIVE_EVENT_MESH_TOKEN" %[1]s/v1/getEventMesh
    curl -s -H "Authorization: Bearer $KNATIVE_EVENT_MESH_TOKEN" %[1]s/namespaces/shop/v1/getEventMesh

  Backstage app-config.yaml:
    catalog:
      providers:
        knativeEventMesh:
          dev:
            token: '${KNATIVE_EVENT_MESH_TOKEN}'
            baseUrl: '%[1]s'
            schedule: { frequency: { minutes: 1 }, timeout: { minutes: 1 } }

%[4]s
    export KUBECONFIG=%[3]s
    kubectl get brokers,triggers,eventtypes -A
    kubectl create namespace team-b
    kubectl apply -n team-b -f - <<< '{"apiVersion":"eventing.knative.dev/v1","kind":"Broker","metadata":{"name":"default"}}'

Press Ctrl-C to stop.
`, url, tok, admin, watch)
}
