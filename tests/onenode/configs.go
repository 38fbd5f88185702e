package onenode

import (
	"fmt"
	"os"
	"strings"
)

// containerdConfig is containerd's configuration. The VM's root lacks
// CAP_SYS_RESOURCE, so the CRI plugin must not raise oom_score_adj
// (restrict_oom_score_adj); without it, every sandbox fails with "can't get
// final child's PID from pipe". The registry is trusted over plain HTTP.
const containerdConfig = `version = 2
root = "$STATE/containerd/root"
state = "$STATE/containerd/state"
[grpc]
  address = "$STATE/run/containerd.sock"
[ttrpc]
  address = "$STATE/run/containerd.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni/conf"
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."$REGISTRY"]
    endpoint = ["http://$REGISTRY"]
`

// kubeletConfig is the kubelet's configuration. The machine has cgroup v1
// (failCgroupV1: false) without systemd managing it (cgroupfs); the pods'
// cgroups go under $CGROUP_ROOT. Only the API server's client certificate
// and bearer tokens the API server accepts and authorizes get in; the
// kubelet listens on the node's address alone. It changes no kernel
// tunable (protectKernelDefaults): it fails if they are not as it wants.
// Image garbage collection and eviction are nearly off: the images come
// from the local registry, and the node is a test machine's disk.
const kubeletConfig = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$STATE/run/containerd.sock
cgroupRoot: $CGROUP_ROOT
protectKernelDefaults: true
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $STATE/pki/kubelet-client-ca.crt}
authorization: {mode: Webhook}
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzPort: 10248
healthzBindAddress: 127.0.0.1
podLogsDir: $STATE/pod-logs
staticPodPath: ""
resolvConf: /etc/resolv.conf
failSwapOn: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"}
serializeImagePulls: false
localStorageCapacityIsolation: false
clusterDNS: [$BRIDGE_IP]
clusterDomain: cluster.local
`

// cniConfig puts pods on the bridge, addressed from the pod range.
const cniConfig = `{
  "cniVersion": "0.4.0",
  "name": "knative-bridge",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$STATE/cni/ipam",
        "ranges": [[{"subnet": "$POD_CIDR"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`

// corefile serves the cluster's names on the bridge, and forwards the
// rest to the host's resolvers.
const corefile = `.:53 {
    bind $BRIDGE_IP
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $KUBECONFIG knative
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    forward . /etc/resolv.conf
    cache 5
}
`

// admissionConfig makes Pod Security's baseline the rule of every
// namespace: no privileged pod, no host namespace, path or port.
const admissionConfig = `apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  configuration:
    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    defaults: {enforce: baseline, enforce-version: latest, warn: baseline, warn-version: latest}
    exemptions: {usernames: [], runtimeClasses: [], namespaces: []}
`

// cgroupRoot returns the kubelet's cgroupRoot for root: "/" when empty.
func cgroupRoot(root string) string {
	if root == "" {
		return "/"
	}
	return root
}

// writeNodeConfigs writes the node's configuration files into the state
// folder.
func (n *Node) writeNodeConfigs() error {
	r := strings.NewReplacer(
		"$STATE", n.opts.Dir,
		"$PAUSE", n.opts.PauseImage,
		"$REGISTRY", n.opts.Registry,
		"$BRIDGE_IP", BridgeIP,
		"$BRIDGE", bridgeName,
		"$POD_CIDR", PodCIDR,
		"$KUBECONFIG", n.AdminKubeconfig(),
		"$NODE_IP", n.nodeIP,
		"$CGROUP_ROOT", cgroupRoot(n.opts.CgroupRoot),
	)
	files := map[string]string{
		n.path("containerd.toml"):                   containerdConfig,
		n.path("kubelet.yaml"):                      kubeletConfig,
		n.path("cni", "conf", "10-bridge.conflist"): cniConfig,
		n.path("Corefile"):                          corefile,
	}
	for path, text := range files {
		if err := os.WriteFile(path, []byte(r.Replace(text)), 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return nil
}
