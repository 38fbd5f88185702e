package cluster

import (
	"context"
	"fmt"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"os"
	"path/filepath"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/knative-eventmesh/function/tests/demo"
)

// Token returns a token for the ServiceAccount, issued through the
// TokenRequest API, creating the namespace and the ServiceAccount if they
// are missing. The token expires after ttl, which must be at least ten
// minutes; zero means the server's default of one hour.
//
// To use the token:
//
//	cfg := rest.AnonymousClientConfig(c.Config())
//	cfg.BearerToken = token
func (c *Cluster) Token(ctx context.Context, namespace, serviceAccount string, ttl time.Duration) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	_, err := c.client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("creating namespace %s: %w", namespace, err)
	}
	sas := c.client.CoreV1().ServiceAccounts(namespace)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: serviceAccount}}
	_, err = sas.Create(ctx, sa, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("creating service account %s/%s: %w", namespace, serviceAccount, err)
	}

	req := &authenticationv1.TokenRequest{}
	if ttl != 0 {
		req.Spec.ExpirationSeconds = new(int64(ttl / time.Second))
	}
	resp, err := sas.CreateToken(ctx, serviceAccount, req, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("requesting token for service account %s/%s: %w", namespace, serviceAccount, err)
	}
	return resp.Status.Token, nil
}

// WriteKubeconfig writes a kubeconfig file for cfg to path, creating the
// file's directory if needed. The file holds cfg's server, CA and
// credentials: a client certificate, a bearer token or both. If cfg is nil,
// the admin configuration is written.
func (c *Cluster) WriteKubeconfig(path string, cfg *rest.Config) error {
	if cfg == nil {
		cfg = c.config
	}
	if err := clientcmd.WriteToFile(*kubeconfig(cfg), path); err != nil {
		return fmt.Errorf("writing kubeconfig: %w", err)
	}
	return nil
}

// kubeconfig returns a kubeconfig equivalent to cfg.
func kubeconfig(cfg *rest.Config) *clientcmdapi.Config {
	const name = "envtest"
	kc := clientcmdapi.NewConfig()
	kc.Clusters[name] = &clientcmdapi.Cluster{
		Server:                   cfg.Host,
		TLSServerName:            cfg.ServerName,
		InsecureSkipTLSVerify:    cfg.Insecure,
		CertificateAuthority:     cfg.CAFile,
		CertificateAuthorityData: cfg.CAData,
	}
	kc.AuthInfos[name] = &clientcmdapi.AuthInfo{
		ClientCertificate:     cfg.CertFile,
		ClientCertificateData: cfg.CertData,
		ClientKey:             cfg.KeyFile,
		ClientKeyData:         cfg.KeyData,
		Token:                 cfg.BearerToken,
		TokenFile:             cfg.BearerTokenFile,
		Impersonate:           cfg.Impersonate.UserName,
		ImpersonateGroups:     cfg.Impersonate.Groups,
		Username:              cfg.Username,
		Password:              cfg.Password,
	}
	kc.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	kc.CurrentContext = name
	return kc
}

// WaitForAccess waits until user may do each of attrs, as RBAC aggregation
// (done by the controller manager) can take a moment after ClusterRoles
// are applied.
func (c *Cluster) WaitForAccess(ctx context.Context, user string, attrs ...authorizationv1.ResourceAttributes) error {
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		for _, a := range attrs {
			sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: user, ResourceAttributes: &a}}
			r, err := c.client.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
			if err != nil || !r.Status.Allowed {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("waiting until %s may %v: %w", user, attrs, err)
	}
	return nil
}

// AdminKubeconfig writes the admin kubeconfig into the cluster's directory,
// once, and returns its path. Stop removes it.
func (c *Cluster) AdminKubeconfig() (string, error) {
	path := filepath.Join(c.dir, "admin.kubeconfig")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := c.WriteKubeconfig(path, nil); err != nil {
		return "", err
	}
	return path, nil
}

// CreateNamespace creates a namespace if it does not exist.
func (c *Cluster) CreateNamespace(ctx context.Context, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := c.client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

// InstallRBAC applies the rbac/ kustomization in dir into knative-eventing
// (created first, as an Eventing install does), and waits until the
// controller manager has aggregated the ClusterRole of the reader and the
// function.
func (c *Cluster) InstallRBAC(ctx context.Context, dir string) error {
	if err := c.CreateNamespace(ctx, "knative-eventing"); err != nil {
		return err
	}
	if err := c.ApplyKustomization(ctx, dir); err != nil {
		return err
	}
	sources := authorizationv1.ResourceAttributes{Verb: "list", Group: "sources.knative.dev", Resource: "pingsources"}
	for _, sa := range []string{"eventmesh-reader", "eventmesh"} {
		if err := c.WaitForAccess(ctx, "system:serviceaccount:knative-eventing:"+sa, sources); err != nil {
			return err
		}
	}
	return nil
}

// NamespaceReaderToken returns a token of ServiceAccount ns/sa, bound to
// rbac/'s eventmesh-reader ClusterRole in namespace ns only: it may read
// the mesh of that namespace, and nothing at the cluster scope (not even
// the CRDs). InstallRBAC must have run.
func (c *Cluster) NamespaceReaderToken(ctx context.Context, ns, sa string) (string, error) {
	if err := c.CreateNamespace(ctx, ns); err != nil {
		return "", err
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: sa + "-mesh-reader", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "eventmesh-reader"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: ns}},
	}
	if _, err := c.client.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("binding %s/%s to eventmesh-reader: %w", ns, sa, err)
	}
	return c.Token(ctx, ns, sa, time.Hour)
}

// InstallDemo applies the rbac/ kustomization in rbacDir and the demo mesh,
// and returns a token of the Backstage reader, valid for an hour.
func (c *Cluster) InstallDemo(ctx context.Context, rbacDir string) (string, error) {
	if err := c.InstallRBAC(ctx, rbacDir); err != nil {
		return "", fmt.Errorf("applying rbac/: %w", err)
	}
	if err := c.Apply(ctx, demo.YAML); err != nil {
		return "", fmt.Errorf("applying the demo mesh: %w", err)
	}
	return c.Token(ctx, "knative-eventing", "eventmesh-reader", time.Hour)
}
