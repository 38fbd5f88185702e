// Package cluster runs a local Kubernetes control plane for the end-to-end
// tests: a real kube-apiserver and etcd, started with controller-runtime's
// envtest, with the Knative Eventing and Serving CRDs installed.
//
// There is no kube-controller-manager, scheduler or kubelet. So Pods never
// run, Secret-based ServiceAccount tokens are never filled, the "default"
// ServiceAccount is not created, and deleted namespaces never finish
// terminating. Use [Cluster.Token] for ServiceAccount tokens, and do not
// delete namespaces.
//
// The kube-apiserver and etcd binaries are taken from the directory named by
// the KUBEBUILDER_ASSETS environment variable; `make test` sets it.
package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/knative-eventmesh/function/tests/child"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// AssetsEnv is the environment variable naming the directory that holds the
// kube-apiserver and etcd binaries.
const AssetsEnv = "KUBEBUILDER_ASSETS"

// Options configures a Cluster.
type Options struct {
	// AssetsDir is the directory holding the kube-apiserver and etcd
	// binaries. If empty, the KUBEBUILDER_ASSETS environment variable is used.
	AssetsDir string

	// ExtraCRDs are installed along with the Knative CRDs.
	ExtraCRDs []*apiextensionsv1.CustomResourceDefinition

	// CRDFilter, if set, is called with every CRD before it is installed,
	// the Knative ones and ExtraCRDs alike. It may modify the CRD; it
	// returns false to leave the CRD out.
	CRDFilter func(crd *apiextensionsv1.CustomResourceDefinition) bool

	// LogDir, if set, is the directory that receives kube-apiserver.log
	// and etcd.log; it is created if needed and kept after Stop. If empty,
	// the logs go to a temporary directory that Stop removes.
	LogDir string
}

// A Cluster is a running kube-apiserver and etcd.
type Cluster struct {
	env    *envtest.Environment
	config *rest.Config
	client kubernetes.Interface
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper

	dir      string     // temporary directory, removed by Stop: etcd, kube-apiserver, logs
	logDir   string     // holds kube-apiserver.log and etcd.log
	logs     []*os.File // the open log files
	keepLogs bool       // start failed: keep the logs the error points to

	controllerManager *child.Process

	stopOnce sync.Once
	stopErr  error
}

// Start starts kube-apiserver and etcd, installs the CRDs and waits until
// they are established. The caller must call Stop.
//
// If the control plane fails to start, the error includes the path and the
// last lines of the kube-apiserver log, and the log is kept.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	apiServer, etcd, controllerManager, err := binaries(opts.AssetsDir)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "eventmesh-cluster-")
	if err != nil {
		return nil, fmt.Errorf("creating temporary directory: %w", err)
	}
	c := &Cluster{dir: dir, logDir: opts.LogDir}
	if c.logDir == "" {
		c.logDir = filepath.Join(dir, "logs")
	}
	if err := c.start(ctx, opts, apiServer, etcd, controllerManager); err != nil {
		return nil, errors.Join(err, c.Stop())
	}
	return c, nil
}

// start does the work of Start.
func (c *Cluster) start(ctx context.Context, opts Options, apiServerPath, etcdPath, controllerManagerPath string) error {
	dirs, err := moduleDirs(ctx, c.dir, eventingModuleVersion(), servingModule+"@"+servingVersion)
	if err != nil {
		return fmt.Errorf("finding the Knative modules: %w", err)
	}
	crds, err := knativeCRDs(dirs[0], dirs[1])
	if err != nil {
		return fmt.Errorf("reading Knative CRDs: %w", err)
	}
	crds = filterCRDs(append(crds, opts.ExtraCRDs...), opts.CRDFilter)

	// Directories of our own: envtest leaks its temporary kube-apiserver
	// directory when it retries a failed start.
	apiServer := &envtest.APIServer{Path: apiServerPath, CertDir: filepath.Join(c.dir, "kube-apiserver")}
	etcd := &envtest.Etcd{Path: etcdPath, DataDir: filepath.Join(c.dir, "etcd")}
	for _, d := range []string{apiServer.CertDir, etcd.DataDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return fmt.Errorf("creating directory: %w", err)
		}
	}
	if apiServer.Out, err = c.openLog("kube-apiserver.log"); err != nil {
		return err
	}
	apiServer.Err = apiServer.Out
	if etcd.Out, err = c.openLog("etcd.log"); err != nil {
		return err
	}
	etcd.Err = etcd.Out
	// The default /24 runs out after about 250 Services.
	apiServer.Configure().Set("service-cluster-ip-range", "10.0.0.0/16")

	c.env = &envtest.Environment{
		ControlPlane:       envtest.ControlPlane{APIServer: apiServer, Etcd: etcd},
		CRDInstallOptions:  envtest.CRDInstallOptions{CRDs: crds},
		UseExistingCluster: new(false),
	}
	if _, err := c.env.Start(); err != nil {
		c.keepLogs = true
		return fmt.Errorf("starting kube-apiserver and etcd: %w\n%s", err, c.logTail())
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := c.connect(); err != nil {
		return err
	}
	if err := c.applyKnativeRoles(ctx, dirs[0]); err != nil {
		return err
	}
	return c.startControllers(ctx, controllerManagerPath, apiServer.CertDir)
}

// Connect returns a Cluster for a control plane that runs elsewhere, such
// as make knative's, reached with the admin configuration cfg. It starts
// nothing, and its Stop stops nothing.
func Connect(cfg *rest.Config) (*Cluster, error) {
	c := &Cluster{config: rest.CopyConfig(cfg)}
	if err := c.connect(); err != nil {
		return nil, err
	}
	return c, nil
}

// connect creates the clients used by the Cluster's methods.
func (c *Cluster) connect() error {
	if c.env != nil {
		c.config = c.env.Config
	}
	var err error
	if c.client, err = kubernetes.NewForConfig(c.config); err != nil {
		return fmt.Errorf("creating client: %w", err)
	}
	if c.dyn, err = dynamic.NewForConfig(c.config); err != nil {
		return fmt.Errorf("creating dynamic client: %w", err)
	}
	c.mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.client.Discovery()))
	return nil
}

// ControllerManagerEnv, when set, names the kube-controller-manager binary
// to run, for an AssetsDir that has none (setup-envtest's has none).
const ControllerManagerEnv = "EVENTMESH_CONTROLLER_MANAGER"

// binaries returns the paths of the kube-apiserver, etcd and
// kube-controller-manager binaries in dir, or in $KUBEBUILDER_ASSETS if dir
// is empty; $EVENTMESH_CONTROLLER_MANAGER names another
// kube-controller-manager.
func binaries(dir string) (apiServer, etcd, controllerManager string, err error) {
	const hint = "run `make test`, or set " + AssetsEnv + " to a directory holding kube-apiserver, etcd and kube-controller-manager (or " + ControllerManagerEnv + " to a kube-controller-manager elsewhere)"
	if dir == "" {
		dir = os.Getenv(AssetsEnv)
	}
	if dir == "" {
		return "", "", "", fmt.Errorf("%s is not set: %s", AssetsEnv, hint)
	}
	apiServer = filepath.Join(dir, "kube-apiserver")
	etcd = filepath.Join(dir, "etcd")
	controllerManager = filepath.Join(dir, "kube-controller-manager")
	if p := os.Getenv(ControllerManagerEnv); p != "" {
		controllerManager = p
	}
	for _, p := range []string{apiServer, etcd, controllerManager} {
		if _, err := os.Stat(p); err != nil {
			return "", "", "", fmt.Errorf("missing control plane binary: %w: %s", err, hint)
		}
	}
	return apiServer, etcd, controllerManager, nil
}

// filterCRDs returns the CRDs for which keep returns true.
func filterCRDs(crds []*apiextensionsv1.CustomResourceDefinition, keep func(*apiextensionsv1.CustomResourceDefinition) bool) []*apiextensionsv1.CustomResourceDefinition {
	if keep == nil {
		return crds
	}
	var kept []*apiextensionsv1.CustomResourceDefinition
	for _, crd := range crds {
		if keep(crd) {
			kept = append(kept, crd)
		}
	}
	return kept
}

// openLog creates the named log file in the log directory.
func (c *Cluster) openLog(name string) (*os.File, error) {
	if err := os.MkdirAll(c.logDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating log directory: %w", err)
	}
	f, err := os.Create(filepath.Join(c.logDir, name))
	if err != nil {
		return nil, fmt.Errorf("creating log file: %w", err)
	}
	c.logs = append(c.logs, f)
	return f, nil
}

// logTail describes where the kube-apiserver log is and returns its last lines.
func (c *Cluster) logTail() string {
	const maxLines, maxBytes = 20, 8 << 10
	path := filepath.Join(c.logDir, "kube-apiserver.log")
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("kube-apiserver log %s: %v", path, err)
	}
	if len(data) > maxBytes {
		data = data[len(data)-maxBytes:]
	}
	lines := strings.Split(string(bytes.TrimSpace(data)), "\n")
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return fmt.Sprintf("kube-apiserver log %s ends with:\n\t%s", path, strings.Join(lines, "\n\t"))
}

// Stop stops kube-apiserver, then etcd, and removes the temporary
// directories. A process that does not exit after SIGTERM within the stop
// timeout (KUBEBUILDER_CONTROLPLANE_STOP_TIMEOUT, default 20s) is killed.
// Stop may be called more than once and from several goroutines.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() { c.stopErr = c.stop() })
	return c.stopErr
}

// stop does the work of Stop.
func (c *Cluster) stop() error {
	var errs []error
	if err := c.stopControllers(); err != nil {
		errs = append(errs, err)
	}
	if c.env != nil {
		if err := c.env.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stopping kube-apiserver and etcd: %w", err))
		}
	}
	for _, f := range c.logs {
		if err := f.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	var remove []string
	if c.dir != "" {
		remove = []string{c.dir}
	}
	if c.keepLogs && c.logDir == filepath.Join(c.dir, "logs") {
		// Keep the logs the start error points to.
		remove = []string{filepath.Join(c.dir, "kube-apiserver"), filepath.Join(c.dir, "etcd")}
	}
	for _, dir := range remove {
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Config returns a copy of the admin configuration: a client certificate
// for user "admin" in group system:masters.
func (c *Cluster) Config() *rest.Config {
	return rest.CopyConfig(c.config)
}

// LogPath returns the directory holding the kube-apiserver.log and etcd.log
// files, which receive the processes' standard output and error.
func (c *Cluster) LogPath() string {
	return c.logDir
}

// Client returns the admin clientset.
func (c *Cluster) Client() kubernetes.Interface { return c.client }

// Dynamic returns the admin dynamic client.
func (c *Cluster) Dynamic() dynamic.Interface { return c.dyn }
