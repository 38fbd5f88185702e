package deploy

import (
	"bufio"
	"context"
	"net"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

// makeRun runs `make <target>` (run or run-backstage) from the
// repository root, with KUBECONFIG set to kubeconfig ("" for none), and
// returns its output up to the line that says it is ready, and a function
// that stops it with Ctrl-C and waits.
func makeRun(t *testing.T, target, kubeconfig, ready string) (string, func()) {
	t.Helper()
	cmd := exec.Command("make", target)
	cmd.Dir = repoRoot
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "KUBECONFIG=") {
			env = append(env, e)
		}
	}
	if kubeconfig != "" {
		env = append(env, "KUBECONFIG="+kubeconfig)
	}
	cmd.Env = env
	// Its own process group, so that Ctrl-C reaches make and its children.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// What make says on stderr; read once Wait has returned.
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	var out strings.Builder
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	stop := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
			if strings.Contains(stderr.String(), "make: ***") {
				t.Errorf("Ctrl-C made make report an error:\n%s", stderr.String())
			}
		case <-time.After(90 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Error("make run did not stop within 90s of Ctrl-C")
		}
	}
	timeout := time.After(10 * time.Minute)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("make run ended before it was ready:\n%s", out.String())
			}
			out.WriteString(line + "\n")
			if strings.Contains(line, ready) {
				go func() {
					for range lines {
					}
				}()
				return out.String(), stop
			}
		case <-timeout:
			stop()
			t.Fatalf("make run was not ready in 10 minutes:\n%s", out.String())
		}
	}
}

// bash runs a script and returns its standard output.
func bash(t *testing.T, script string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", "-c", script).Output()
	if err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	return string(out)
}

// TestMakeRun runs make run with no cluster configured, and the lines it
// prints, as a reader of the README would.
func TestMakeRun(t *testing.T) {
	out, stop := makeRun(t, "run", "", "Press Ctrl-C to stop.")
	export := regexp.MustCompile(`(?m)^\s*(export KNATIVE_EVENT_MESH_TOKEN=\S+)$`).FindStringSubmatch(out)
	curl := regexp.MustCompile(`(?m)^\s*(curl .*/v1/getEventMesh)$`).FindStringSubmatch(out)
	kubeconfig := regexp.MustCompile(`(?m)^\s*export KUBECONFIG=(\S+)$`).FindStringSubmatch(out)
	if export == nil || curl == nil || kubeconfig == nil {
		stop()
		t.Fatalf("make run did not print a token, a curl line and a kubeconfig:\n%s", out)
	}
	apiServer := apiServerAddr(t, kubeconfig[1])

	mesh := bash(t, export[1]+"\n"+curl[1])
	for _, want := range []string{`"eventTypes":[`, `"name":"order-created"`, `"kind":"PingSource"`, `"consumedBy":["archiver"]`} {
		if !strings.Contains(mesh, want) {
			t.Errorf("the printed curl line gave no %s:\n%.500s", want, mesh)
		}
	}
	if code := bash(t, `curl -s -o /dev/null -w '%{http_code}' http://localhost:8080/v1/getEventMesh`); code != "401" {
		t.Errorf("without the header: %s, want 401", code)
	}
	stop()
	if conn, err := net.DialTimeout("tcp", apiServer, time.Second); err == nil {
		conn.Close()
		t.Errorf("the local API server at %s still runs after Ctrl-C", apiServer)
	}
	if conn, err := net.DialTimeout("tcp", "localhost:8080", time.Second); err == nil {
		conn.Close()
		t.Error("the function still serves :8080 after Ctrl-C")
	}
}

// TestMakeRunWithKubeconfig runs make run against this test's cluster.
func TestMakeRunWithKubeconfig(t *testing.T) {
	_, stop := makeRun(t, "run", adminKubeconfig, "Serving the cluster of KUBECONFIG=")
	defer stop()
	waitReady(t, "http://localhost:8080/health/readiness")
	mesh := bash(t, `curl -s -H "Authorization: Bearer `+readerToken+`" http://localhost:8080/v1/getEventMesh`)
	if !strings.Contains(mesh, `"name":"order-created"`) {
		t.Errorf("make run with KUBECONFIG did not serve this cluster's mesh:\n%.500s", mesh)
	}
}

// apiServerAddr returns host:port of a kubeconfig's server.
func apiServerAddr(t *testing.T, kubeconfig string) string {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(cfg.Host)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// TestMakeRunBackstage runs make run-backstage and the lines it prints: the
// curl that lists the catalog shows the demo mesh, and after the printed
// kubectl lines, the new Broker.
func TestMakeRunBackstage(t *testing.T) {
	out, stop := makeRun(t, "run-backstage", "", "Press Ctrl-C to stop.")
	defer stop()
	curl := regexp.MustCompile(`(?m)^\s*(curl .*/api/catalog/entities\S*)$`).FindStringSubmatch(out)
	kubeconfig := regexp.MustCompile(`(?m)^\s*(export KUBECONFIG=\S+)$`).FindStringSubmatch(out)
	var kubectl []string
	for _, m := range regexp.MustCompile(`(?m)^\s*(kubectl (create|apply) .*)$`).FindAllStringSubmatch(out, -1) {
		kubectl = append(kubectl, m[1])
	}
	if curl == nil || kubeconfig == nil || len(kubectl) != 2 {
		t.Fatalf("make run-backstage did not print a curl line for the catalog, a kubeconfig and two kubectl lines:\n%s", out)
	}
	// The first announcement (the whole demo mesh) may still be on its way.
	catalog := waitForOutput(t, curl[1], `"name":"order-created"`)
	if !strings.Contains(catalog, `"kind":"API"`) {
		t.Errorf("the catalog lists no API entity:\n%.500s", catalog)
	}
	bash(t, kubeconfig[1]+"\n"+strings.Join(kubectl, "\n"))
	waitForOutput(t, curl[1], `{"kind":"Component","metadata":{"namespace":"team-b","name":"default"}}`)
}

// waitForOutput runs script until its output contains want, for at most a
// minute, and returns the output.
func waitForOutput(t *testing.T, script, want string) string {
	t.Helper()
	var out string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if out = bash(t, script); strings.Contains(out, want) {
			return out
		}
	}
	t.Fatalf("%s: no %s within a minute:\n%.1000s", script, want, out)
	return ""
}
