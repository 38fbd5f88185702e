package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/knative-eventmesh/function/tests/child"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// controllers are the kube-controller-manager controllers the tests need:
// aggregated ClusterRoles get their rules, Secrets of type
// kubernetes.io/service-account-token get their token, deleted namespaces
// are emptied and removed, and the garbage collector finishes foreground
// deletions (as `func delete` asks for) and removes owned objects.
const controllers = "clusterrole-aggregation,serviceaccount-token,namespace,garbage-collector-controller"

// startControllers runs kube-controller-manager with those controllers
// only, and waits until aggregation works.
func (c *Cluster) startControllers(ctx context.Context, path, certDir string) error {
	kubeconfig := filepath.Join(c.dir, "controller-manager.kubeconfig")
	if err := c.WriteKubeconfig(kubeconfig, nil); err != nil {
		return err
	}
	caFile := filepath.Join(c.dir, "ca.crt")
	if err := os.WriteFile(caFile, c.config.CAData, 0o600); err != nil {
		return fmt.Errorf("writing CA: %w", err)
	}
	out, err := c.openLog("kube-controller-manager.log")
	if err != nil {
		return err
	}
	cmd := exec.Command(path,
		"--kubeconfig="+kubeconfig,
		"--controllers="+controllers,
		"--service-account-private-key-file="+filepath.Join(certDir, "sa-signer.key"),
		"--root-ca-file="+caFile,
		"--leader-elect=false",
		"--secure-port=0",
	)
	cmd.Stdout, cmd.Stderr = out, out
	// It dies with the test process, even if that is killed.
	p, err := child.Start(cmd)
	if err != nil {
		return err
	}
	c.controllerManager = p
	if err := c.waitForAggregation(ctx); err != nil {
		return fmt.Errorf("kube-controller-manager did not aggregate ClusterRoles (log %s): %w",
			filepath.Join(c.logDir, "kube-controller-manager.log"), err)
	}
	return nil
}

// waitForAggregation creates an aggregated ClusterRole and waits for the
// controller manager to fill in its rules.
func (c *Cluster) waitForAggregation(ctx context.Context) error {
	const label = "cluster.eventmesh.test/aggregation-probe"
	roles := c.client.RbacV1().ClusterRoles()
	part := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "aggregation-probe-part", Labels: map[string]string{label: "true"}},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}}},
	}
	whole := &rbacv1.ClusterRole{
		ObjectMeta:      metav1.ObjectMeta{Name: "aggregation-probe"},
		AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{label: "true"}}}},
	}
	for _, r := range []*rbacv1.ClusterRole{part, whole} {
		if _, err := roles.Create(ctx, r, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating ClusterRole %s: %w", r.Name, err)
		}
	}
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		select {
		case <-c.controllerManager.Done():
			return false, errors.New("kube-controller-manager exited")
		default:
		}
		r, err := roles.Get(ctx, whole.Name, metav1.GetOptions{})
		return err == nil && len(r.Rules) > 0, nil
	})
	for _, r := range []*rbacv1.ClusterRole{whole, part} {
		_ = roles.Delete(ctx, r.Name, metav1.DeleteOptions{})
	}
	return err
}

// stopControllers stops kube-controller-manager: SIGTERM, then SIGKILL
// after five seconds.
func (c *Cluster) stopControllers() error {
	if c.controllerManager == nil {
		return nil
	}
	_, err := c.controllerManager.Stop(5 * time.Second)
	return err
}
