package deploy

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/knative-eventmesh/function/tests/child"
	"github.com/knative-eventmesh/function/tests/knativeinstall"
)

// FuncEnv names the func CLI binary; the Makefile builds it and sets this.
const FuncEnv = "EVENTMESH_FUNC"

// TestFuncBuild builds the repository, as committed, with the real func
// CLI and its host builder, then runs the binary func built and reads the
// mesh from it.
func TestFuncBuild(t *testing.T) {
	funcBin := os.Getenv(FuncEnv)
	if funcBin == "" {
		t.Fatalf("%s is not set: run make test, which builds the func CLI", FuncEnv)
	}
	dir := checkout(t)
	before, err := os.ReadFile(filepath.Join(dir, "func.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// As `func deploy` in the README builds: for every platform func
	// targets (it takes no --platform with the host builder).
	cmd := exec.Command(funcBin, "build", "--builder", "host")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("func build: %v\n%s", err, out)
	}
	after, err := os.ReadFile(filepath.Join(dir, "func.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("func build changed func.yaml:\n%s", after)
	}
	if _, err := os.Stat(filepath.Join(dir, ".func", "build", "oci", "index.json")); err != nil {
		t.Errorf("func build made no OCI image: %v\n%s", err, out)
	}
	bin := filepath.Join(dir, ".func", "build", "result", "f.linux.amd64")
	serveBuilt(t, bin)
}

// serveBuilt runs the binary func built, as its image would, and checks
// that it gets ready and serves the mesh.
func serveBuilt(t *testing.T, bin string) {
	t.Helper()
	addr := freeAddr(t)
	var logs bytes.Buffer
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "LISTEN_ADDRESS="+addr, "KUBECONFIG="+adminKubeconfig)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	p, err := child.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := p.Stop(10 * time.Second); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("function output:\n%s", logs.String())
		}
	})
	base := "http://" + addr
	waitReady(t, base+"/health/readiness")
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/getEventMesh", nil)
	req.Header.Set("Authorization", "Bearer "+readerToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body.String(), `"name":"order-created"`) {
		t.Errorf("the built function answered %d: %.300s", resp.StatusCode, body.String())
	}
}

// checkout copies the files git tracks into a new directory: the
// repository as committed, without build output.
func checkout(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := knativeinstall.Checkout(repoRoot, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// freeAddr returns a free loopback address.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitReady polls url until it answers 200.
func waitReady(t *testing.T, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s did not answer 200 in 30s", url)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestClusterLocalByDefault checks that func.yaml deploys the function
// without a public route: the ksvc `func deploy` creates carries Knative's
// cluster-local visibility label (func v0.49 puts deploy.labels on it).
func TestClusterLocalByDefault(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "func.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Deploy struct {
			Labels []struct{ Key, Value string }
		}
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("func.yaml: %v", err)
	}
	for _, l := range f.Deploy.Labels {
		if l.Key == "networking.knative.dev/visibility" {
			if l.Value != "cluster-local" {
				t.Errorf("func.yaml sets %s=%q, want cluster-local", l.Key, l.Value)
			}
			return
		}
	}
	t.Errorf("func.yaml's deploy.labels %v lack networking.knative.dev/visibility: cluster-local; the function would get a public route", f.Deploy.Labels)
}
