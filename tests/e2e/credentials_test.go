package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/knative-eventmesh/function/tests/functest"
)

// TestOwnCredentialsNeverUsed runs the function with admin credentials of
// every kind a kubeconfig can hold, and checks that a caller gets exactly
// what its own token allows: 403 for a token without rights, 401 for a bad
// one. Each kubeconfig is first shown to really grant admin rights, so the
// test would fail if the function used it.
func TestOwnCredentialsNeverUsed(t *testing.T) {
	dir := t.TempDir()
	ns := newNamespace(t)
	noRights := token(t, ns, "nobody", "")
	adminToken := token(t, ns, "admin", `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: {{ns}}-admin
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
- kind: ServiceAccount
  name: {{sa}}
  namespace: {{ns}}
`)
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(adminToken), 0o600); err != nil {
		t.Fatal(err)
	}
	execMarker := filepath.Join(dir, "exec-ran")
	execPlugin := filepath.Join(dir, "credential-plugin.sh")
	script := fmt.Sprintf(`#!/bin/sh
echo ran >> %q
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%%s"}}' "$(cat %q)"
`, execMarker, tokenFile)
	if err := os.WriteFile(execPlugin, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}

	variants := []struct {
		name   string
		modify func(*clientcmdapi.AuthInfo)
	}{
		{"client certificate", func(*clientcmdapi.AuthInfo) {}},
		{"bearer token", func(a *clientcmdapi.AuthInfo) { *a = clientcmdapi.AuthInfo{Token: adminToken} }},
		{"token file, as in a Pod", func(a *clientcmdapi.AuthInfo) { *a = clientcmdapi.AuthInfo{TokenFile: tokenFile} }},
		{"exec plugin", func(a *clientcmdapi.AuthInfo) {
			*a = clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{
				APIVersion: "client.authentication.k8s.io/v1", Command: execPlugin, InteractiveMode: clientcmdapi.NeverExecInteractiveMode,
			}}
		}},
		{"impersonation of system:masters", func(a *clientcmdapi.AuthInfo) {
			a.Impersonate, a.ImpersonateGroups = "someone", []string{"system:masters"}
		}},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			kc, err := clientcmd.LoadFromFile(adminKubeconfig)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range kc.AuthInfos {
				v.modify(a)
			}
			path := filepath.Join(t.TempDir(), "kubeconfig")
			if err := clientcmd.WriteToFile(*kc, path); err != nil {
				t.Fatal(err)
			}
			mustListBrokers(t, path)
			_ = os.Remove(execMarker)

			fn := functest.Start(t, map[string]string{"KUBECONFIG": path})
			checkError(t, fn.Get(t, "/v1/getEventMesh", noRights), http.StatusForbidden, "may not list")
			checkError(t, fn.Get(t, "/namespaces/shop/v1/getEventMesh", noRights), http.StatusForbidden, "may not list")
			checkError(t, fn.Get(t, "/v1/getEventMesh", "bm90LWEtdG9rZW4"), http.StatusUnauthorized)
			if r := fn.Get(t, "/v1/getEventMesh", readerToken); r.Status != http.StatusOK {
				t.Errorf("reader: status %d: %s", r.Status, r.Body)
			}
			if _, err := os.Stat(execMarker); err == nil {
				t.Error("the function ran its own credential plugin for a caller's request")
			}
		})
	}
}

// mustListBrokers checks that a kubeconfig may list Brokers cluster-wide.
func mustListBrokers(t *testing.T, kubeconfig string) {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	client, err := dynamic.NewForConfig(rest.CopyConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	gvr := schema.GroupVersionResource{Group: "eventing.knative.dev", Version: "v1", Resource: "brokers"}
	if _, err := client.Resource(gvr).List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("the function's own kubeconfig does not grant admin rights, so this test proves nothing: %v", err)
	}
}
