// Package onenode runs a real one-node Kubernetes cluster on this host:
// etcd, kube-apiserver, kube-controller-manager and kube-scheduler, and a
// node of containerd, runc, the kubelet, kube-proxy and CoreDNS, with the
// CNI bridge plugin for pod networking. Pods run for real.
//
// It needs root, and Debian's containerd, runc, containernetworking-plugins,
// iptables and nftables. It changes the network, mounts and cgroups of
// the namespaces it runs in: run it in namespaces of its own, as make
// knative does (tests/cmd/knative).
package onenode

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

// The cluster's fixed addresses.
const (
	NodeName    = "knative-node"
	ServiceCIDR = "10.96.0.0/16"
	PodCIDR     = "10.244.0.0/24"
	BridgeIP    = "10.244.0.1" // the pods' gateway, where CoreDNS listens
	bridgeName  = "knative-cni0"
	// APIServerPort is where the API server serves, on every address.
	APIServerPort = 6443
	// EtcdClientPort is where etcd serves, on the loopback alone.
	EtcdClientPort = 12379
	etcdPeerPort   = 12380
)

// Binaries are the paths of the cluster's programs.
type Binaries struct {
	Etcd, APIServer, ControllerManager, Scheduler, Kubelet, Proxy, CoreDNS string
}

// Options configures a Node.
type Options struct {
	// Dir holds the cluster's state: etcd's data, certificates,
	// containerd's and the kubelet's folders, configurations.
	Dir string
	// LogDir receives the components' logs; empty means Dir/logs.
	LogDir string
	Bin    Binaries
	// Registry is a host:port that containerd pulls from over plain HTTP,
	// such as the local registry of package images.
	Registry string
	// PauseImage is the image of the pods' sandbox containers.
	PauseImage string
	// NodeIP is the node's address, where the kubelet listens; empty
	// means the address of the default route's interface.
	NodeIP string
	// ServingIPs are more addresses for the API server's certificate,
	// where clients from elsewhere reach it.
	ServingIPs []string
	// CgroupRoot is the cgroup, in every hierarchy, under which the
	// kubelet puts the pods; it must exist. Empty means the root.
	CgroupRoot string
}

// A Node is a running one-node cluster.
type Node struct {
	opts   Options
	nodeIP string
	config *rest.Config
	client kubernetes.Interface
	procs  []*process // in start order
}

// Start starts the cluster and waits until the node is Ready. On error it
// stops what it started; the caller restores the host.
func Start(ctx context.Context, opts Options) (*Node, error) {
	n := &Node{opts: opts}
	if err := n.start(ctx); err != nil {
		return nil, errors.Join(err, n.Stop())
	}
	return n, nil
}

// start does the work of Start.
func (n *Node) start(ctx context.Context) error {
	n.nodeIP = n.opts.NodeIP
	if n.nodeIP == "" {
		var err error
		if n.nodeIP, err = hostIP(); err != nil {
			return err
		}
	}
	if n.opts.LogDir == "" {
		n.opts.LogDir = n.path("logs")
	}
	for _, d := range []string{n.opts.LogDir, n.path("pki"), n.path("cni", "conf"), n.path("run")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", d, err)
		}
	}
	if err := n.writeCredentials(); err != nil {
		return err
	}
	if err := n.startControlPlane(ctx); err != nil {
		return err
	}
	if err := n.createBridge(); err != nil {
		return err
	}
	return n.startNode(ctx)
}

// path joins elem to the state folder.
func (n *Node) path(elem ...string) string {
	return filepath.Join(append([]string{n.opts.Dir}, elem...)...)
}

// Config returns the admin configuration.
func (n *Node) Config() *rest.Config { return rest.CopyConfig(n.config) }

// AdminKubeconfig returns the path of the admin kubeconfig.
func (n *Node) AdminKubeconfig() string { return n.path("pki", "admin.kubeconfig") }

// IP returns the node's IP address, where the API server serves.
func (n *Node) IP() string { return n.nodeIP }

// LogDir returns the folder of the components' logs.
func (n *Node) LogDir() string { return n.opts.LogDir }

// writeCredentials writes the API server's serving certificate, the
// ServiceAccount signing key, the admin token and the admin kubeconfig.
func (n *Node) writeCredentials() error {
	ips := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP(n.nodeIP), net.ParseIP(serviceIP(1))}
	for _, ip := range n.opts.ServingIPs {
		ips = append(ips, net.ParseIP(ip))
	}
	certPEM, keyPEM, err := cert.GenerateSelfSignedCertKey("kubernetes", ips,
		[]string{"localhost", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"})
	if err != nil {
		return fmt.Errorf("generating the API server's certificate: %w", err)
	}
	saKey, err := keyutil.MakeEllipticPrivateKeyPEM()
	if err != nil {
		return fmt.Errorf("generating the ServiceAccount signing key: %w", err)
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return fmt.Errorf("generating the admin token: %w", err)
	}
	token := hex.EncodeToString(buf)
	kubeletCA, clientCert, clientKey, err := kubeletClientCredentials()
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"apiserver.crt":                certPEM,
		"apiserver.key":                keyPEM,
		"sa.key":                       saKey,
		"tokens.csv":                   []byte(token + `,admin,admin,"system:masters"` + "\n"),
		"kubelet-client-ca.crt":        kubeletCA,
		"apiserver-kubelet-client.crt": clientCert,
		"apiserver-kubelet-client.key": clientKey,
		"admission.yaml":               []byte(admissionConfig),
	}
	for name, data := range files {
		if err := os.WriteFile(n.path("pki", name), data, 0o600); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	n.config = &rest.Config{
		Host:            fmt.Sprintf("https://%s:%d", n.nodeIP, APIServerPort),
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: certPEM},
	}
	if n.client, err = kubernetes.NewForConfig(n.config); err != nil {
		return fmt.Errorf("creating client: %w", err)
	}
	return WriteKubeconfig(n.AdminKubeconfig(), n.config)
}

// WriteKubeconfig writes a kubeconfig for cfg (a server, its CA and a
// bearer token) to path.
func WriteKubeconfig(path string, cfg *rest.Config) error {
	const name = "knative"
	kc := clientcmdapi.NewConfig()
	kc.Clusters[name] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	kc.CurrentContext = name
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return fmt.Errorf("writing kubeconfig: %w", err)
	}
	return nil
}

// serviceIP returns the i-th address of the Service range.
func serviceIP(i int) string {
	return fmt.Sprintf("10.96.0.%d", i)
}

// startControlPlane starts etcd, kube-apiserver, kube-controller-manager
// and kube-scheduler, and waits until the API server is ready.
func (n *Node) startControlPlane(ctx context.Context) error {
	kubeconfig := n.AdminKubeconfig()
	pki := n.path("pki")
	err := n.launch("etcd", n.opts.Bin.Etcd,
		"--data-dir="+n.path("etcd"),
		fmt.Sprintf("--listen-client-urls=http://127.0.0.1:%d", EtcdClientPort),
		fmt.Sprintf("--advertise-client-urls=http://127.0.0.1:%d", EtcdClientPort),
		fmt.Sprintf("--listen-peer-urls=http://127.0.0.1:%d", etcdPeerPort),
		fmt.Sprintf("--initial-advertise-peer-urls=http://127.0.0.1:%d", etcdPeerPort),
		fmt.Sprintf("--initial-cluster=default=http://127.0.0.1:%d", etcdPeerPort),
		"--unsafe-no-fsync",
	)
	if err != nil {
		return err
	}
	err = n.launch("kube-apiserver", n.opts.Bin.APIServer,
		fmt.Sprintf("--etcd-servers=http://127.0.0.1:%d", EtcdClientPort),
		// Pods reach the API server through the kubernetes Service, whose
		// endpoint is the node's address.
		"--bind-address=0.0.0.0",
		"--advertise-address="+n.nodeIP,
		fmt.Sprintf("--secure-port=%d", APIServerPort),
		"--tls-cert-file="+filepath.Join(pki, "apiserver.crt"),
		"--tls-private-key-file="+filepath.Join(pki, "apiserver.key"),
		"--token-auth-file="+filepath.Join(pki, "tokens.csv"),
		"--service-cluster-ip-range="+ServiceCIDR,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+filepath.Join(pki, "sa.key"),
		"--service-account-signing-key-file="+filepath.Join(pki, "sa.key"),
		"--authorization-mode=RBAC",
		// The node's name is not in any DNS: logs and exec go by its IP.
		"--kubelet-preferred-address-types=InternalIP",
		"--kubelet-client-certificate="+filepath.Join(pki, "apiserver-kubelet-client.crt"),
		"--kubelet-client-key="+filepath.Join(pki, "apiserver-kubelet-client.key"),
		// No pod is privileged, and Pod Security's baseline holds in
		// every namespace: no host namespaces, paths or ports.
		"--allow-privileged=false",
		"--admission-control-config-file="+filepath.Join(pki, "admission.yaml"),
		"--profiling=false",
	)
	if err != nil {
		return err
	}
	if err := n.waitForAPIServer(ctx); err != nil {
		return err
	}
	err = n.launch("kube-controller-manager", n.opts.Bin.ControllerManager,
		"--kubeconfig="+kubeconfig,
		"--controllers=*",
		"--service-account-private-key-file="+filepath.Join(pki, "sa.key"),
		"--root-ca-file="+filepath.Join(pki, "apiserver.crt"),
		"--use-service-account-credentials=false",
		"--leader-elect=false",
		"--secure-port=0",
	)
	if err != nil {
		return err
	}
	return n.launch("kube-scheduler", n.opts.Bin.Scheduler,
		"--kubeconfig="+kubeconfig,
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port=10259",
	)
}

// waitForAPIServer waits up to a minute for the API server's readyz.
func (n *Node) waitForAPIServer(ctx context.Context) error {
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := n.exited(); err != nil {
			return false, err
		}
		body, err := n.client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil && string(body) == "ok", nil
	})
	if err != nil {
		return fmt.Errorf("waiting for the API server (log %s): %w", filepath.Join(n.opts.LogDir, "kube-apiserver.log"), err)
	}
	return nil
}

// createBridge creates the pods' bridge with the gateway address, so that
// CoreDNS can listen there before the first pod starts. The CNI bridge
// plugin takes it as it is.
func (n *Node) createBridge() error {
	if _, err := run("ip", "link", "add", bridgeName, "type", "bridge"); err != nil {
		return err
	}
	if _, err := run("ip", "addr", "add", BridgeIP+"/24", "dev", bridgeName); err != nil {
		return err
	}
	_, err := run("ip", "link", "set", bridgeName, "up")
	return err
}

// startNode starts containerd, the kubelet, kube-proxy and CoreDNS, and
// waits until the node is Ready.
func (n *Node) startNode(ctx context.Context) error {
	if err := n.writeNodeConfigs(); err != nil {
		return err
	}
	if err := n.launch("containerd", "containerd", "--config="+n.path("containerd.toml")); err != nil {
		return err
	}
	kubeconfig := n.AdminKubeconfig()
	err := n.launch("kubelet", n.opts.Bin.Kubelet,
		"--config="+n.path("kubelet.yaml"),
		"--kubeconfig="+kubeconfig,
		"--node-ip="+n.nodeIP,
		"--hostname-override="+NodeName,
		"--root-dir="+n.path("kubelet"),
		"--cert-dir="+n.path("kubelet", "pki"),
	)
	if err != nil {
		return err
	}
	err = n.launch("kube-proxy", n.opts.Bin.Proxy,
		"--kubeconfig="+kubeconfig,
		"--hostname-override="+NodeName,
		"--cluster-cidr="+PodCIDR,
		"--proxy-mode=iptables",
		// Masquerade Service traffic, so that a reply from a pod on the
		// bridge goes back through the host's connection tracking.
		"--masquerade-all",
		// Conntrack's limit and timeouts are the host's, not the node's.
		"--conntrack-max-per-core=0",
		"--conntrack-tcp-timeout-established=0",
		"--conntrack-tcp-timeout-close-wait=0",
		"--metrics-bind-address=127.0.0.1:10249",
		"--healthz-bind-address=127.0.0.1:10256",
	)
	if err != nil {
		return err
	}
	if err := n.launch("coredns", n.opts.Bin.CoreDNS, "-conf", n.path("Corefile")); err != nil {
		return err
	}
	return n.waitForNode(ctx)
}

// waitForNode waits up to two minutes for the node to be Ready.
func (n *Node) waitForNode(ctx context.Context) error {
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := n.exited(); err != nil {
			return false, err
		}
		node, err := n.client.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c.Status == corev1.ConditionTrue, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for node %s to be Ready (log %s): %w", NodeName, filepath.Join(n.opts.LogDir, "kubelet.log"), err)
	}
	return nil
}

// hostIP returns the IPv4 address of the interface of the default route.
func hostIP() (string, error) {
	data, err := os.ReadFile("/proc/net/route")
	if err != nil {
		return "", fmt.Errorf("reading routes: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 2 || f[1] != "00000000" {
			continue
		}
		iface, err := net.InterfaceByName(f[0])
		if err != nil {
			return "", fmt.Errorf("finding the default route's interface: %w", err)
		}
		addrs, err := iface.Addrs()
		if err != nil {
			return "", fmt.Errorf("listing the addresses of %s: %w", f[0], err)
		}
		for _, a := range addrs {
			if ipnet, ok := a.(*net.IPNet); ok && ipnet.IP.To4() != nil {
				return ipnet.IP.String(), nil
			}
		}
	}
	return "", errors.New("no default route with an IPv4 address: the node needs one, for pods to reach the API server")
}
