// Package readme runs the commands of the README, as written, against a
// local API server, the way a platform engineer would type them.
//
// Every ```sh block of README.md is preceded by a marker:
// <!-- readme-test: run --> or <!-- readme-test: skip (reason) -->, so no
// command goes untested without a stated reason.
package readme

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/knative-eventmesh/function/tests/cluster"
	"github.com/knative-eventmesh/function/tests/demo"
	"github.com/knative-eventmesh/function/tests/functest"
)

var (
	testCluster     *cluster.Cluster
	adminKubeconfig string
	repoRoot        = filepath.Join("..", "..")
)

func TestMain(m *testing.M) {
	cluster.Main(m, cluster.Options{}, func(c *cluster.Cluster) error {
		testCluster = c
		ctx := context.Background()
		var err error
		if adminKubeconfig, err = c.AdminKubeconfig(); err != nil {
			return err
		}
		// What a cluster with Knative Eventing has before the README.
		if err := c.CreateNamespace(ctx, "knative-eventing"); err != nil {
			return err
		}
		return c.Apply(ctx, demo.YAML)
	})
}

// block is a ```sh block of the README.
type block struct {
	line   int
	marker string // "run" or "skip (reason)"
	text   string
}

var markerRE = regexp.MustCompile(`^<!-- readme-test: (run|skip \(.+\)) -->$`)

// blocks returns the ```sh blocks of the README, each with its marker.
func blocks(t *testing.T) []block {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	var out []block
	for i := 0; i < len(lines); i++ {
		if lines[i] != "```sh" {
			continue
		}
		b := block{line: i + 1}
		if i > 0 {
			if m := markerRE.FindStringSubmatch(lines[i-1]); m != nil {
				b.marker = m[1]
			}
		}
		if b.marker == "" {
			t.Errorf("README.md:%d: a ```sh block without a readme-test marker", i+1)
		}
		var body []string
		for i++; i < len(lines) && lines[i] != "```"; i++ {
			body = append(body, lines[i])
		}
		b.text = strings.Join(body, "\n")
		out = append(out, b)
	}
	return out
}

// TestREADME runs every block marked run, in order, in one shell.
func TestREADME(t *testing.T) {
	fn := functest.Start(t, map[string]string{"KUBECONFIG": adminKubeconfig})
	publishService(t, fn.URL)
	sh := startShell(t)

	var ran int
	for _, b := range blocks(t) {
		if b.marker != "run" {
			continue
		}
		for _, cmd := range strings.Split(b.text, "\n") {
			out := sh.run(t, b.line, cmd)
			checkOutput(t, cmd, out, fn.URL)
			ran++
		}
		if strings.Contains(b.text, "kubectl apply -k rbac/") {
			waitForControllers(t)
		}
	}
	if ran < 10 {
		t.Errorf("ran %d commands of the README; the markers are probably lost", ran)
	}
}

// checkOutput checks what a command printed, where there is something to
// check.
func checkOutput(t *testing.T, cmd, out, functionURL string) {
	t.Helper()
	jwt := regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`)
	switch {
	case strings.HasPrefix(cmd, "kubectl apply -k rbac/"):
		for _, want := range []string{"serviceaccount/eventmesh-reader", "clusterrole.rbac.authorization.k8s.io/eventmesh-reader", "apiserversource.sources.knative.dev/eventmesh-changes"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: no %s in:\n%s", cmd, want, out)
			}
		}
	case strings.HasPrefix(cmd, "kubectl get secret eventmesh-reader-token"), strings.HasPrefix(cmd, "kubectl create token"):
		if !jwt.MatchString(strings.TrimSpace(out)) {
			t.Errorf("%s: printed %q, not a token", cmd, out)
		}
	case strings.HasPrefix(cmd, `echo "$URL"`):
		if strings.TrimSpace(out) != functionURL {
			t.Errorf("%s: %q, want the ksvc URL %s", cmd, out, functionURL)
		}
	case strings.HasPrefix(cmd, `curl -s -H "Authorization: Bearer $TOKEN"`) && strings.Contains(cmd, "/v1/asyncapi"):
		if !strings.Contains(out, `"asyncapi":"3.0.0"`) || !strings.Contains(out, `"name":"com.example.order.created"`) {
			t.Errorf("%s: not the mesh as AsyncAPI: %.300s", cmd, out)
		}
	case strings.HasPrefix(cmd, `curl -s -H "Authorization: Bearer $TOKEN"`):
		if !strings.Contains(out, `"name":"order-created"`) {
			t.Errorf("%s: not the mesh: %.300s", cmd, out)
		}
	case strings.HasPrefix(cmd, "curl -s -o /dev/null"):
		if strings.TrimSpace(out) != "401" {
			t.Errorf("%s: %q, want 401", cmd, out)
		}
	case strings.HasPrefix(cmd, "kubectl patch sinkbinding"):
		if !strings.Contains(out, "patched") {
			t.Errorf("%s: %s", cmd, out)
		}
	case strings.HasPrefix(cmd, "kubectl apply -f rbac/announcements-policy.yaml"):
		if !strings.Contains(out, "eventpolicy.eventing.knative.dev/eventmesh-announcements created") {
			t.Errorf("%s: %s", cmd, out)
		}
	case strings.HasPrefix(cmd, "kubectl apply -f rbac/backstage-trigger.yaml"):
		if !strings.Contains(out, "trigger.eventing.knative.dev/eventmesh-to-backstage created") {
			t.Errorf("%s: %s", cmd, out)
		}
	}
}

// publishService creates the function's Knative Service and sets its URL
// to where the function runs here, as Knative Serving would.
func publishService(t *testing.T, url string) {
	t.Helper()
	ctx := context.Background()
	client, err := dynamic.NewForConfig(testCluster.Config())
	if err != nil {
		t.Fatal(err)
	}
	ksvcs := client.Resource(schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "services"}).Namespace("knative-eventing")
	svc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "serving.knative.dev/v1", "kind": "Service",
		"metadata": map[string]any{"name": "eventmesh", "namespace": "knative-eventing"},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"containers": []any{map[string]any{"image": "registry.example.com/eventmesh"}},
		}}},
	}}
	created, err := ksvcs.Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(created.Object, url, "status", "url"); err != nil {
		t.Fatal(err)
	}
	if _, err := ksvcs.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitForControllers waits, as a person typing would without noticing,
// until the controller manager has filled the reader's token Secret and
// aggregated its ClusterRole.
func waitForControllers(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if err := testCluster.WaitForAccess(ctx, "system:serviceaccount:knative-eventing:eventmesh-reader",
		authorizationv1.ResourceAttributes{Verb: "list", Group: "sources.knative.dev", Resource: "pingsources"}); err != nil {
		t.Fatal(err)
	}
	client, err := kubernetes.NewForConfig(testCluster.Config())
	if err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		s, err := client.CoreV1().Secrets("knative-eventing").Get(ctx, "eventmesh-reader-token", metav1.GetOptions{})
		return err == nil && len(s.Data["token"]) > 0, nil
	})
	if err != nil {
		t.Fatalf("the reader's token Secret was not filled: %v", err)
	}
}

// shell is a bash session that runs commands one at a time.
type shell struct {
	in  io.WriteCloser
	out *bufio.Reader
}

const statusMark = "__README_TEST_STATUS__"

// startShell starts bash in the repository root, with the local cluster
// as its kubeconfig and the func CLI on its PATH.
func startShell(t *testing.T) *shell {
	t.Helper()
	funcBin := os.Getenv("EVENTMESH_FUNC")
	if funcBin == "" {
		t.Fatal("EVENTMESH_FUNC is not set: run make test, which builds the func CLI")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "bash", "-s")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "KUBECONFIG="+adminKubeconfig, "PATH="+filepath.Dir(funcBin)+":"+os.Getenv("PATH"))
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		cancel()
		_ = cmd.Wait()
		pw.Close()
	})
	return &shell{in: in, out: bufio.NewReader(pr)}
}

// run runs one command and returns its output; a command that fails fails
// the test.
func (s *shell) run(t *testing.T, line int, cmd string) string {
	t.Helper()
	if _, err := fmt.Fprintf(s.in, "%s\nprintf '\\n%s %%d\\n' $?\n", cmd, statusMark); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	done := make(chan error, 1)
	go func() {
		for {
			l, err := s.out.ReadString('\n')
			if err != nil {
				done <- err
				return
			}
			if strings.HasPrefix(l, statusMark) {
				if strings.TrimSpace(strings.TrimPrefix(l, statusMark)) != "0" {
					done <- fmt.Errorf("exit status %s", strings.TrimSpace(strings.TrimPrefix(l, statusMark)))
				} else {
					done <- nil
				}
				return
			}
			out.WriteString(l)
		}
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("README.md:%d: %s: %v\n%s", line, cmd, err, out.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("README.md:%d: %s: no answer in 2 minutes\n%s", line, cmd, out.String())
	}
	return strings.TrimSuffix(out.String(), "\n")
}
