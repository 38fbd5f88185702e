// Command knative runs make knative's cluster: a real one-node Kubernetes
// with Knative Serving (Traefik as its ingress) and Eventing, and the
// function deployed on it by func deploy.
//
//	knative start [flags]  start the cluster in a sandbox of its own (new
//	                       network, mount and PID namespaces), wait until
//	                       it is ready, and print how to use it
//	knative init [flags]   the sandbox's first process (start runs it)
//	knative up [flags]     run the cluster until SIGTERM (init runs it)
//	knative down [flags]   stop the sandbox and remove what start created,
//	                       found by name; report what else on the host
//	                       changed meanwhile, and leave it
//
// The state folder (-state) holds the admin kubeconfig (kubeconfig), the
// binary that started the cluster (eventmesh-knative, which down runs),
// each run's logs (runs/<time>/), the measured figures (figures.json),
// the sandbox's record (sandbox.json) and the host's state from before
// the start (host.json), which down compares with.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

// options are the flags of every command.
type options struct {
	state string // the state folder
	repo  string // the repository's root

	kubeBin, nodeBin, servingBin, eventingBin string
	traefik, coreDNS, funcBin, podprobe       string
	kubectl                                   string

	registry      string // the local registry's host:port
	logs          string // this run's log folder
	keepOnFailure bool

	// The sandbox's name and its link's network: see sandbox.go.
	name          string
	vethNet       string
	routeServices bool
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: knative start|init|up|down [flags]")
		os.Exit(2)
	}
	var o options
	flags := flag.NewFlagSet("knative "+os.Args[1], flag.ExitOnError)
	flags.StringVar(&o.state, "state", ".knative", "the cluster's state `folder`")
	flags.StringVar(&o.repo, "repo", ".", "the repository's root")
	flags.StringVar(&o.kubeBin, "kube-bin", "", "`folder` of etcd and kube-controller-manager")
	flags.StringVar(&o.nodeBin, "node-bin", "", "`folder` of kube-apiserver (with its version set), the kubelet, kube-scheduler and kube-proxy")
	flags.StringVar(&o.servingBin, "serving-bin", "", "`folder` of Knative Serving's static binaries")
	flags.StringVar(&o.eventingBin, "eventing-bin", "", "`folder` of Knative Eventing's static binaries")
	flags.StringVar(&o.traefik, "traefik", "", "Traefik's static `binary`")
	flags.StringVar(&o.coreDNS, "coredns", "", "CoreDNS's `binary`")
	flags.StringVar(&o.funcBin, "func", "", "the func CLI")
	flags.StringVar(&o.podprobe, "podprobe", "", "the static podprobe `binary` (tests/cmd/podprobe)")
	flags.StringVar(&o.kubectl, "kubectl", "kubectl", "the kubectl `binary` that start's instructions name")
	flags.StringVar(&o.registry, "registry", "localhost:5000", "`host:port` of the local image registry, on loopback")
	flags.StringVar(&o.logs, "logs", "", "up: this run's log `folder` (start sets it)")
	flags.BoolVar(&o.keepOnFailure, "keep-on-failure", false, "up: when the start fails, keep what runs, for a look, until SIGTERM")
	flags.StringVar(&o.name, "name", "knative", "the sandbox's `name`: its host link is emesh-NAME, its cgroup eventmesh-NAME")
	flags.StringVar(&o.vethNet, "veth-net", "10.243.255.0/30", "the /30 `network` of the link between the host and the sandbox")
	flags.BoolVar(&o.routeServices, "route-services", true, "route the cluster's Service range from the host into the sandbox")
	_ = flags.Parse(os.Args[2:])
	// Paths go into configuration files that other programs read from
	// other folders: make them absolute.
	for _, p := range []*string{&o.state, &o.repo, &o.podprobe, &o.logs} {
		if abs, err := filepath.Abs(*p); err == nil && *p != "" {
			*p = abs
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if _, err = o.sandboxNet(); err != nil {
		fmt.Fprintln(os.Stderr, "knative:", err)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "start":
		err = start(ctx, o, os.Args[2:])
	case "init":
		stop() // init passes the signals on to up
		err = sandboxInit(o, os.Args[2:])
	case "up":
		err = up(ctx, o)
	case "down":
		err = down(ctx, o)
	default:
		err = fmt.Errorf("unknown command %q: want start, init, up or down", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "knative:", err)
		os.Exit(1)
	}
}

// path joins elem to the state folder.
func (o options) path(elem ...string) string {
	return filepath.Join(append([]string{o.state}, elem...)...)
}
