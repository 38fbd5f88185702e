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
// (failCgroupV1: false) without systemd managing it (cgroupfs). Image
// garbage collection and eviction are nearly off: the images come from the
// local registry, and the node is a test machine's disk.
const kubeletConfig = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$STATE/run/containerd.sock
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
address: 0.0.0.0
port: 10250
readOnlyPort: 0
healthzPort: 10248
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
