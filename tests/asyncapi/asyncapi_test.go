package asyncapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	asyncapidoc "github.com/knative-eventmesh/function/asyncapi"
	"github.com/knative-eventmesh/function/mesh"
	"github.com/knative-eventmesh/function/tests/functest"
	"github.com/knative-eventmesh/function/tests/npm"
)

// demoNamespaces are the namespaces of the demo mesh.
const demoNamespaces = "finance,shop"

// npmFlags are the flags of npm ci here: no install scripts or optional
// dependencies are needed.
var npmFlags = []string{"--ignore-scripts", "--omit=optional", "--no-audit", "--no-fund"}

// install installs AsyncAPI's tools with npm ci, once.
func install(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	took, err := npm.CI(ctx, ".", npmFlags...)
	if err != nil {
		t.Fatalf("installing AsyncAPI's tools: %v", err)
	}
	if took > 0 {
		t.Logf("npm ci took %s", took.Round(time.Second))
	}
}

// get gets path from the function with the reader's token and fails the
// test unless it is a 200.
func get(t *testing.T, f *functest.Function, path string) []byte {
	t.Helper()
	resp := f.Get(t, path, readerToken)
	if resp.Status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.Status, resp.Body)
	}
	return resp.Body
}

// TestParser parses every document with @asyncapi/parser 3.x and fails on
// any error it reports.
func TestParser(t *testing.T) {
	install(t)
	dir := t.TempDir()
	f := functest.Start(t, map[string]string{"KUBECONFIG": adminKubeconfig})
	write := func(name string, body []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The demo, and each of its EventTypes' own document.
	write("demo.json", get(t, f, "/namespaces/"+demoNamespaces+"/v1/asyncapi"))
	var m mesh.Mesh
	if err := json.Unmarshal(get(t, f, "/namespaces/"+demoNamespaces+"/v1/getEventMesh"), &m); err != nil {
		t.Fatal(err)
	}
	if len(m.EventTypes) == 0 {
		t.Fatal("the demo mesh has no EventTypes")
	}
	for _, et := range m.EventTypes {
		q := url.Values{"eventType": {et.Namespace + "/" + et.Name}}
		write("demo-eventtype-"+et.Namespace+"-"+et.Name+".json", get(t, f, "/v1/asyncapi?"+q.Encode()))
	}

	// The whole cluster: the demo and make bench's mesh.
	start := time.Now()
	bench := get(t, f, "/v1/asyncapi")
	t.Logf("the document of the demo and the bench mesh of %d Triggers (seeded in %s): %d KB, served in %s",
		benchTriggers, seeded.Round(time.Second), len(bench)>>10, time.Since(start).Round(time.Millisecond))
	write("bench.json", bench)

	// The mesh with every kind, and the fuzz corpus.
	cmd := exec.Command("go", "test", "-count=1", "-run", "^TestCorpusDocuments$", "./asyncapi")
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "EVENTMESH_ASYNCAPI_OUT="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("writing the documents of the asyncapi package's corpus: %v\n%s", err, out)
	}

	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(files, func(f string) bool { return strings.HasSuffix(f, "/every-kind.json") }) {
		t.Fatalf("no document of the mesh with every kind among %q", files)
	}
	results := parse(t, files)
	if len(results) != len(files) {
		t.Errorf("the parser reported on %d documents of %d", len(results), len(files))
	}
	for _, r := range results {
		name := filepath.Base(r.File)
		if len(r.Errors) > 0 {
			t.Errorf("%s: %d errors:\n  %s", name, len(r.Errors), strings.Join(r.Errors, "\n  "))
		}
		t.Logf("%s: parsed in %d ms, warnings %q", name, r.MS, r.Warnings)
	}
}

// result is what parse.mjs reports of one document.
type result struct {
	File     string   `json:"file"`
	Errors   []string `json:"errors"`
	Warnings []string `json:"warnings"`
	MS       int      `json:"ms"`
}

// parse runs parse.mjs over files.
func parse(t *testing.T, files []string) []result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "node", append([]string{"parse.mjs"}, files...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var results []result
	s := bufio.NewScanner(&stdout)
	s.Buffer(nil, 16<<20)
	for s.Scan() {
		var r result
		if err := json.Unmarshal(s.Bytes(), &r); err != nil {
			t.Fatalf("parse.mjs wrote %q: %v", s.Text(), err)
		}
		results = append(results, r)
	}
	if err != nil && len(results) == 0 {
		t.Fatalf("node parse.mjs: %v\n%s", err, stderr.Bytes())
	}
	return results
}

// render loads page in headless Chromium and returns the DOM once the
// page's scripts ran, and writes a screenshot to shot.
func render(t *testing.T, page, shot string) string {
	t.Helper()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not on PATH: install Debian's chromium package (make test does)")
	}
	run := func(args ...string) []byte {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		// Headless, offline, and with a profile of its own each time.
		flags := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=20000"}
		var stdout, stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, chromium, append(append(flags, args...), "file://"+page)...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, tail(stderr.Bytes(), 2000))
		}
		return stdout.Bytes()
	}
	dom := run("--dump-dom")
	run("--window-size=1280,2400", "--screenshot="+shot)
	return string(dom)
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// TestRender renders the demo's document, and one EventType's, with
// @asyncapi/react-component's standalone bundle in headless Chromium, and
// checks that the page shows each message and each channel by name. The
// screenshots are kept in bin/asyncapi/ (ignored by git).
func TestRender(t *testing.T) {
	install(t)
	f := functest.Start(t, map[string]string{"KUBECONFIG": adminKubeconfig})
	out, err := filepath.Abs(filepath.Join("..", "..", "bin", "asyncapi"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, path string }{
		{"demo", "/namespaces/" + demoNamespaces + "/v1/asyncapi"},
		{"demo-order-created", "/v1/asyncapi?eventType=shop/order-created"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := get(t, f, tt.path)
			doc := decode(t, body)
			var names []string
			for _, c := range doc.Channels {
				names = append(names, c.Title)
			}
			for _, m := range doc.Components.Messages {
				names = append(names, m.Name)
			}
			if len(doc.Channels) == 0 || len(doc.Components.Messages) == 0 {
				t.Fatalf("the document has %d channels and %d messages", len(doc.Channels), len(doc.Components.Messages))
			}
			page := filepath.Join(t.TempDir(), "page.html")
			if err := os.WriteFile(page, pageHTML(t, body), 0o644); err != nil {
				t.Fatal(err)
			}
			shot := filepath.Join(out, tt.name+".png")
			dom := render(t, page, shot)
			if !strings.Contains(dom, "Operations") {
				t.Fatalf("the component rendered no operations; the page:\n%s", tail([]byte(dom), 3000))
			}
			for _, name := range names {
				if !strings.Contains(dom, name) {
					t.Errorf("the page does not show %q", name)
				}
			}
			if info, err := os.Stat(shot); err != nil || info.Size() == 0 {
				t.Errorf("no screenshot: %v", err)
			}
			t.Logf("%d channels and %d messages shown; screenshot %s", len(doc.Channels), len(doc.Components.Messages), shot)
		})
	}
}

// pageHTML is a page that renders doc with the component's standalone
// bundle. The tests read no network: the schema URLs of the demo
// (https://schemas.example.com/...) are answered with an open schema, as
// parse.mjs does.
func pageHTML(t *testing.T, doc []byte) []byte {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("node_modules", "@asyncapi", "react-component"))
	if err != nil {
		t.Fatal(err)
	}
	// json.Marshal escapes <, > and &: the document cannot end the script.
	var compact bytes.Buffer
	if err := json.Compact(&compact, doc); err != nil {
		t.Fatal(err)
	}
	inline, err := json.Marshal(json.RawMessage(compact.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Appendf(nil, `<!doctype html>
<html><head><meta charset="utf-8"><link rel="stylesheet" href="file://%s/styles/default.min.css"></head>
<body><div id="asyncapi"></div>
<script>
const realFetch = window.fetch.bind(window);
window.fetch = (input, init) => {
  const url = typeof input === 'string' ? input : input.url;
  if (!/^https?:/.test(url)) return realFetch(input, init);
  const standIn = JSON.stringify({description: 'stand-in for ' + url + ', which the tests do not fetch'});
  return Promise.resolve(new Response(standIn, {headers: {'Content-Type': 'application/json'}}));
};
</script>
<script src="file://%s/browser/standalone/index.js"></script>
<script>
AsyncApiStandalone.render({schema: %s, config: {show: {sidebar: false}}}, document.getElementById('asyncapi'));
</script>
</body></html>
`, dir, dir, inline)
}

// decode reads an AsyncAPI document as the function writes it.
func decode(t *testing.T, body []byte) *asyncapidoc.Document {
	t.Helper()
	var d asyncapidoc.Document
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatalf("decoding the document: %v", err)
	}
	return &d
}
