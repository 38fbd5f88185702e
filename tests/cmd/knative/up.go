package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/knative-eventmesh/function/tests/cluster"
	"github.com/knative-eventmesh/function/tests/demo"
	"github.com/knative-eventmesh/function/tests/images"
	"github.com/knative-eventmesh/function/tests/knativeinstall"
	"github.com/knative-eventmesh/function/tests/onenode"
	"k8s.io/client-go/rest"
)

// Figures are the start's measured durations, in seconds, written to
// figures.json.
type Figures struct {
	Images        float64 `json:"images"`        // wrapping and pushing the images
	Cluster       float64 `json:"cluster"`       // API server up to node Ready
	Knative       float64 `json:"knative"`       // Serving, Traefik, Eventing installed and available
	FunctionReady float64 `json:"functionReady"` // rbac/ applied, func deploy, ksvc Ready
	Total         float64 `json:"total"`
}

// up runs the cluster until ctx is done, then stops it. It runs in the
// sandbox, as the child of init; down removes what is left.
func up(ctx context.Context, o options) (err error) {
	if o.logs == "" {
		o.logs = o.path("logs")
	}
	for _, d := range []string{o.logs, o.path("state")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	var node *onenode.Node
	var reg *images.Registry
	defer func() {
		if err != nil && o.keepOnFailure {
			fmt.Printf("start failed: %v\nkeeping the cluster for a look; make knative-down stops it\n", err)
			<-ctx.Done()
		}
		err = errors.Join(err, teardown(o, node, reg))
	}()
	node, reg, err = bringUp(ctx, o)
	if err != nil {
		return err
	}
	<-ctx.Done()
	fmt.Println("stopping")
	return nil
}

// bringUp starts the registry, the cluster, Knative and the function, and
// writes the kubeconfig, the figures and the ready file.
func bringUp(ctx context.Context, o options) (*onenode.Node, *images.Registry, error) {
	begin := time.Now()
	var fig Figures
	reg, err := images.Serve(o.registry, o.path("state", "registry"))
	if err != nil {
		return nil, nil, err
	}
	step := time.Now()
	imgs, err := pushImages(ctx, o, reg)
	if err != nil {
		return nil, reg, err
	}
	fig.Images = since(step)
	if err := os.WriteFile(o.path("podprobe-image"), []byte(imgs["podprobe"]), 0o644); err != nil {
		return nil, reg, err
	}
	fmt.Printf("images pushed to %s in %.1fs\n", reg.Host, fig.Images)

	step = time.Now()
	node, err := onenode.Start(ctx, onenode.Options{
		Dir:        o.path("state"),
		LogDir:     o.logs,
		NodeIP:     nodeIP,
		ServingIPs: []string{o.sandboxIP()},
		CgroupRoot: "/" + o.cgroupName(),
		Bin: onenode.Binaries{
			Etcd:              filepath.Join(o.kubeBin, "etcd"),
			APIServer:         filepath.Join(o.nodeBin, "kube-apiserver"),
			ControllerManager: filepath.Join(o.kubeBin, "kube-controller-manager"),
			Scheduler:         filepath.Join(o.nodeBin, "kube-scheduler"),
			Kubelet:           filepath.Join(o.nodeBin, "kubelet"),
			Proxy:             filepath.Join(o.nodeBin, "kube-proxy"),
			CoreDNS:           o.coreDNS,
		},
		Registry:   reg.Host,
		PauseImage: imgs["pause"],
	})
	if err != nil {
		return node, reg, err
	}
	fig.Cluster = since(step)
	fmt.Printf("node %s Ready in %.1fs; logs in %s\n", onenode.NodeName, fig.Cluster, node.LogDir())
	// The host reaches the API server at the sandbox's end of the link.
	hostConfig := node.Config()
	hostConfig.Host = fmt.Sprintf("https://%s:%d", o.sandboxIP(), onenode.APIServerPort)
	if err := onenode.WriteKubeconfig(o.path("kubeconfig"), hostConfig); err != nil {
		return node, reg, err
	}

	cfg := node.Config()
	cfg.WarningHandler = rest.NoWarnings{} // Knative's warnings on the demo's ksvcs
	c, err := cluster.Connect(cfg)
	if err != nil {
		return node, reg, err
	}
	step = time.Now()
	if err := installKnative(ctx, c, imgs, reg.Host); err != nil {
		return node, reg, err
	}
	fig.Knative = since(step)
	fmt.Printf("Knative Serving, Traefik and Eventing available in %.1fs\n", fig.Knative)

	if err := applyDemo(ctx, c); err != nil {
		return node, reg, err
	}
	if err := knativeinstall.Announcements(ctx, c); err != nil {
		return node, reg, err
	}
	step = time.Now()
	deployLog, err := os.Create(filepath.Join(o.logs, "func-deploy.log"))
	if err != nil {
		return node, reg, err
	}
	defer deployLog.Close()
	err = knativeinstall.Function(ctx, c, knativeinstall.Deploy{
		Func:       o.funcBin,
		Repo:       o.repo,
		Dir:        o.path("state", "function"),
		Kubeconfig: node.AdminKubeconfig(),
		Registry:   reg.Host,
		Log:        deployLog,
	})
	if err != nil {
		return node, reg, err
	}
	if err := knativeinstall.Policy(ctx, c, o.repo); err != nil {
		return node, reg, err
	}
	fig.FunctionReady = since(step)
	fig.Total = since(begin)
	fmt.Printf("the function is deployed and Ready in %.1fs (func deploy's output: %s)\n", fig.FunctionReady, deployLog.Name())
	if err := writeJSON(o.path("figures.json"), fig); err != nil {
		return node, reg, err
	}
	if err := os.WriteFile(o.path("ready"), nil, 0o644); err != nil {
		return node, reg, err
	}
	fmt.Printf("ready in %.1fs\n", fig.Total)
	return node, reg, nil
}

// installKnative installs Serving, Traefik, Eventing and the sink, and
// waits until their Deployments are available.
func installKnative(ctx context.Context, c *cluster.Cluster, imgs map[string]string, registry string) error {
	ko := knativeinstall.Images{}
	for k, v := range imgs {
		ko[k] = v
	}
	if err := knativeinstall.Serving(ctx, c, ko, registry); err != nil {
		return err
	}
	if err := knativeinstall.Traefik(ctx, c, imgs["traefik"]); err != nil {
		return err
	}
	if err := knativeinstall.Eventing(ctx, c, ko); err != nil {
		return err
	}
	if err := knativeinstall.Sink(ctx, c, imgs["knative.dev/eventing/cmd/event_display"]); err != nil {
		return err
	}
	return knativeinstall.WaitForDeployments(ctx, c.Client(), 10*time.Minute,
		"knative-serving", "traefik", "knative-eventing", "eventmesh-sink")
}

// applyDemo applies the demo mesh, without its status: Eventing's
// controllers write every status here. Its config-features turns on OIDC,
// without which Eventing's webhook refuses its EventPolicy: the demo is
// applied again until the webhook has seen the change, for up to a minute.
func applyDemo(ctx context.Context, c *cluster.Cluster) error {
	var err error
	for range 30 {
		if err = c.ApplySpec(ctx, demo.YAML); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
	return fmt.Errorf("applying the demo mesh: %w", err)
}

// pushImages wraps the static binaries into images and pushes them. It
// returns their names by digest, keyed by ko import path (as Knative's
// manifests name them), or by "pause", "podprobe" and "traefik".
func pushImages(ctx context.Context, o options, reg *images.Registry) (map[string]string, error) {
	bins := []images.Binary{
		{Path: o.podprobe, Repository: "pause", Args: []string{"pause"}},
		{Path: o.podprobe, Repository: "podprobe"},
		{Path: o.traefik, Repository: "traefik"},
	}
	keys := []string{"pause", "podprobe", "traefik"}
	for _, cmd := range knativeinstall.ServingCommands {
		bins = append(bins, images.Binary{Path: filepath.Join(o.servingBin, cmd), Repository: "knative/serving/" + cmd})
		keys = append(keys, "knative.dev/serving/cmd/"+cmd)
	}
	for _, cmd := range knativeinstall.EventingCommands {
		bins = append(bins, images.Binary{Path: filepath.Join(o.eventingBin, filepath.Base(cmd)), Repository: "knative/eventing/" + cmd})
		keys = append(keys, "knative.dev/eventing/cmd/"+cmd)
	}
	refs := map[string]string{}
	for i, b := range bins {
		ref, err := reg.Push(ctx, b)
		if err != nil {
			return nil, err
		}
		refs[keys[i]] = ref
	}
	return refs, nil
}

// teardown stops the cluster and the registry, and removes the ready
// file. The rest goes with the sandbox; down removes the state.
func teardown(o options, node *onenode.Node, reg *images.Registry) error {
	var errs []error
	if node != nil {
		errs = append(errs, node.Stop())
	}
	if reg != nil {
		errs = append(errs, reg.Close())
	}
	if err := os.Remove(o.path("ready")); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func since(t time.Time) float64 {
	return float64(time.Since(t).Round(100*time.Millisecond)) / float64(time.Second)
}

// writeJSON writes v to path as indented JSON.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}
