package knative

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/knative-eventmesh/function/tests/onenode"
)

// TestNoWayIn checks what the README says about who may reach the node,
// against what enforces it: the sandbox's network, the kubelet's webhook
// authentication and authorization, and the API server's admission.
func TestNoWayIn(t *testing.T) {
	nodeIP, kubeletPort := kubeletEndpoint(t)
	allowed := kubeletReader(t)
	t.Run("from the host only the API server is reachable", func(t *testing.T) {
		cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(state, "kubeconfig"))
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(cfg.Host)
		if err != nil {
			t.Fatal(err)
		}
		sandbox := u.Hostname()
		// The positive control: the way in that the kubeconfig names.
		if err := dial(u.Host); err != nil {
			t.Fatalf("the API server at %s: %v", u.Host, err)
		}
		// The sandbox's end of the link is the host's neighbour: a refused
		// connection there means nothing listens.
		if err := dial(net.JoinHostPort(sandbox, strconv.Itoa(onenode.EtcdClientPort))); err == nil {
			t.Errorf("the host reaches etcd at %s", sandbox)
		}
		// The node's address is routed nowhere but the default route, and
		// a network may accept any connection there: ask for the
		// kubelet's answer itself, with a token it takes.
		for _, addr := range []string{net.JoinHostPort(nodeIP, kubeletPort), net.JoinHostPort(sandbox, kubeletPort)} {
			if kubeletAnswers(addr, allowed) {
				t.Errorf("the kubelet answers the host at %s", addr)
			}
		}
	})
	t.Run("the kubelet takes only authenticated, authorized calls", func(t *testing.T) {
		target := "https://" + net.JoinHostPort(nodeIP, kubeletPort) + "/pods"
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		other, err := testCluster.Token(ctx, ns, "default", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			caller, token string
			want          int
		}{
			{"a ServiceAccount allowed nodes/proxy", allowed, 200},
			{"no token", "", 401},
			{"a ServiceAccount not allowed nodes/proxy", other, 403},
		} {
			r := runProbe(t, probe{args: []string{"get", target}, env: map[string]string{"TOKEN": c.token, "INSECURE_SKIP_TLS_VERIFY": "true"}})
			if r.Status != c.want {
				t.Errorf("%s: GET %s from a pod: %d, want %d", c.caller, target, r.Status, c.want)
			}
		}
	})
	t.Run("no privileged pod and no host namespace", func(t *testing.T) {
		pods := testCluster.Client().CoreV1().Pods(ns)
		dryRun := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// The positive control: the same pod, unprivileged, is admitted.
		if _, err := pods.Create(ctx, probePod(probe{args: []string{"pause"}}), dryRun); err != nil {
			t.Fatalf("an unprivileged pod: %v", err)
		}
		privileged := probePod(probe{args: []string{"pause"}})
		privileged.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true)}
		hostNetwork := probePod(probe{args: []string{"pause"}})
		hostNetwork.Spec.HostNetwork = true
		for name, pod := range map[string]*corev1.Pod{"privileged": privileged, "hostNetwork": hostNetwork} {
			_, err := pods.Create(ctx, pod, dryRun)
			if !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err) {
				t.Errorf("a %s pod: %v, want it refused", name, err)
			}
		}
	})
}

// dial connects to addr over TCP, and closes the connection.
func dial(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	return conn.Close()
}

// kubeletAnswers says whether the kubelet answers GET /pods at addr, as
// it would with token: 200 and a PodList. Its certificate is self-signed;
// what matters here is who may call, not who answers.
func kubeletAnswers(addr, token string) bool {
	transport := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 3 * time.Second}
	req, err := http.NewRequest(http.MethodGet, "https://"+addr+"/pods", nil)
	if err != nil {
		return false
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var list struct {
		Kind string `json:"kind"`
	}
	return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&list) == nil && list.Kind == "PodList"
}

// kubeletEndpoint returns the node's address and the kubelet's port, as
// the Node's status names them.
func kubeletEndpoint(t *testing.T) (string, string) {
	t.Helper()
	node, err := testCluster.Client().CoreV1().Nodes().Get(context.Background(), onenode.NodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(int(node.Status.DaemonEndpoints.KubeletEndpoint.Port))
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address, port
		}
	}
	t.Fatalf("node %s has no InternalIP", onenode.NodeName)
	return "", ""
}

// kubeletReader returns a token of a ServiceAccount that may get
// nodes/proxy, which the kubelet's authorization asks the API server
// about for GET /pods. The grant is removed after the test.
func kubeletReader(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const name = "eventmesh-test-kubelet-reader"
	createServiceAccount(t, name)
	rbac := testCluster.Client().RbacV1()
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes/proxy"}, Verbs: []string{"get"}}},
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}},
	}
	if _, err := rbac.ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	if _, err := rbac.ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = rbac.ClusterRoleBindings().Delete(context.Background(), name, metav1.DeleteOptions{})
		_ = rbac.ClusterRoles().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	token, err := testCluster.Token(ctx, ns, name, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return token
}
