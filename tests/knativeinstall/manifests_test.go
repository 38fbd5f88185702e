package knativeinstall

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

const deploymentYAML = `# A comment, then two documents.
apiVersion: apps/v1
kind: Deployment
metadata: {name: controller, namespace: knative-serving}
spec:
  template:
    spec:
      containers:
      - name: controller
        image: ko://knative.dev/serving/cmd/controller
        env:
        - {name: QUEUE_IMAGE, value: ko://knative.dev/serving/cmd/queue}
        - {name: OTHER, value: plain}
---
`

const configMapYAML = `apiVersion: v1
kind: ConfigMap
metadata: {name: config-network, namespace: knative-serving}
data:
  _example: "kept"
---
apiVersion: v1
kind: ConfigMap
metadata: {name: config-network, namespace: elsewhere}
data: {}
---
apiVersion: v1
kind: Namespace
metadata: {name: knative-serving}
`

// decodeAll decodes manifests' output.
func decodeAll(t *testing.T, docs []byte) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(docs), 4096)
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			break
		}
		if len(m) > 0 {
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
	}
	return objs
}

func writeManifests(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	// Sorted by path: b/ after a.yaml, whatever the order of writing.
	if err := os.MkdirAll(filepath.Join(dir, "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		filepath.Join(dir, "b", "configmap.yaml"): configMapYAML,
		filepath.Join(dir, "a.yaml"):              deploymentYAML,
		filepath.Join(dir, "placeholder.go"):      "package config\n",
	}
	for path, text := range files {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestManifests(t *testing.T) {
	dir := writeManifests(t)
	images := Images{
		"knative.dev/serving/cmd/controller": "localhost:5000/controller@sha256:aa",
		"knative.dev/serving/cmd/queue":      "localhost:5000/queue@sha256:bb",
	}
	docs, err := manifests([]string{dir}, images, setConfigMapData("knative-serving", "config-network", map[string]string{"ingress-class": TraefikClass}))
	if err != nil {
		t.Fatal(err)
	}
	objs := decodeAll(t, docs)
	if len(objs) != 4 {
		t.Fatalf("got %d objects, want 4:\n%s", len(objs), docs)
	}
	if objs[0].GetKind() != "Namespace" {
		t.Errorf("first object is a %s, want the Namespace, last of the files", objs[0].GetKind())
	}
	objs = objs[1:]
	if objs[0].GetKind() != "Deployment" {
		t.Errorf("second object is a %s, want the Deployment of a.yaml (files in path order)", objs[0].GetKind())
	}
	containers, _, _ := unstructured.NestedSlice(objs[0].Object, "spec", "template", "spec", "containers")
	c := containers[0].(map[string]any)
	if c["image"] != "localhost:5000/controller@sha256:aa" {
		t.Errorf("image = %v", c["image"])
	}
	env := c["env"].([]any)
	if got := env[0].(map[string]any)["value"]; got != "localhost:5000/queue@sha256:bb" {
		t.Errorf("QUEUE_IMAGE = %v, want the queue's image", got)
	}
	if got := env[1].(map[string]any)["value"]; got != "plain" {
		t.Errorf("OTHER = %v, want it unchanged", got)
	}
	data, _, _ := unstructured.NestedStringMap(objs[1].Object, "data")
	if data["ingress-class"] != TraefikClass || data["_example"] != "kept" {
		t.Errorf("knative-serving/config-network data = %v", data)
	}
	other, _, _ := unstructured.NestedStringMap(objs[2].Object, "data")
	if _, ok := other["ingress-class"]; ok {
		t.Errorf("the ConfigMap of another namespace was edited: %v", other)
	}
}

func TestManifestsMissingImage(t *testing.T) {
	dir := writeManifests(t)
	_, err := manifests([]string{dir}, Images{"knative.dev/serving/cmd/controller": "x"})
	if err == nil || !strings.Contains(err.Error(), "knative.dev/serving/cmd/queue") {
		t.Errorf("err = %v, want one naming the queue's missing image", err)
	}
}

// TestReleaseImages reads the manifests of the Serving and Eventing
// releases with an image for each command make knative builds: each
// ko:// image they name must be one of those.
func TestReleaseImages(t *testing.T) {
	ctx := context.Background()
	serving, err := servingDirs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	eventing, err := eventingDirs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		module, prefix string
		dirs           []string
		cmds           []string
	}{
		{ServingModule, "knative.dev/serving/cmd/", serving, ServingCommands},
		{EventingModule, "knative.dev/eventing/cmd/", eventing, EventingCommands},
	} {
		images := Images{}
		for _, c := range r.cmds {
			images[r.prefix+c] = "localhost:5000/" + c
		}
		docs, err := manifests(r.dirs, images, servingEdits("localhost:5000")...)
		if err != nil {
			t.Errorf("%s: %v", r.module, err)
			continue
		}
		if r.module == EventingModule {
			docs = append([]byte(eventingImagesYAML), docs...)
		}
		objs := decodeAll(t, docs)
		checkConfigMapRefs(t, r.module, objs)
		if len(objs) < 50 {
			t.Errorf("%s: %d objects, want Knative's whole core", r.module, len(objs))
		}
		if r.module == ServingModule {
			checkServingEdits(t, objs)
		}
	}
}

// checkServingEdits checks that Serving's manifests hold the ConfigMaps
// that servingEdits changes, changed, and the CRDs of the kinds they use.
func checkServingEdits(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	want := map[string]string{
		"config-network/ingress-class":                        TraefikClass,
		"config-domain/example.com":                           "",
		"config-deployment/registries-skipping-tag-resolving": "kind.local,ko.local,dev.local,localhost:5000",
	}
	crds := map[string]bool{}
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" {
			crds[o.GetName()] = true
		}
		if o.GetKind() != "ConfigMap" || o.GetNamespace() != "knative-serving" {
			continue
		}
		data, _, _ := unstructured.NestedStringMap(o.Object, "data")
		for k, v := range want {
			if name, key, _ := strings.Cut(k, "/"); name == o.GetName() && has(data, key, v) {
				delete(want, k)
			}
		}
	}
	for k, v := range want {
		t.Errorf("no ConfigMap knative-serving/%s = %q in Serving's manifests", k, v)
	}
	for _, crd := range []string{"certificates.networking.internal.knative.dev", "ingresses.networking.internal.knative.dev", "images.caching.internal.knative.dev", "services.serving.knative.dev"} {
		if !crds[crd] {
			t.Errorf("Serving's manifests lack the CRD %s", crd)
		}
	}
}

// checkConfigMapRefs checks that each configMapKeyRef of the objects that
// is not optional names a key of a ConfigMap among them: a pod with a
// missing one never starts.
func checkConfigMapRefs(t *testing.T, module string, objs []*unstructured.Unstructured) {
	t.Helper()
	keys := map[string]bool{}
	for _, o := range objs {
		if o.GetKind() == "ConfigMap" {
			data, _, _ := unstructured.NestedStringMap(o.Object, "data")
			for k := range data {
				keys[o.GetNamespace()+"/"+o.GetName()+"/"+k] = true
			}
		}
	}
	for _, o := range objs {
		if k := o.GetKind(); k != "Deployment" && k != "StatefulSet" && k != "DaemonSet" && k != "Job" {
			continue // a CRD's schema names configMapKeyRef too
		}
		walk(o.Object, func(m map[string]any) {
			ref, ok := m["configMapKeyRef"].(map[string]any)
			if !ok || ref["optional"] == true {
				return
			}
			if key := fmt.Sprintf("%s/%v/%v", o.GetNamespace(), ref["name"], ref["key"]); !keys[key] {
				t.Errorf("%s: %s %s reads ConfigMap key %s, which no manifest holds", module, o.GetKind(), o.GetName(), key)
			}
		})
	}
}

// walk calls f with each map in v, at any depth.
func walk(v any, f func(map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		f(v)
		for _, x := range v {
			walk(x, f)
		}
	case []any:
		for _, x := range v {
			walk(x, f)
		}
	}
}

// has says whether data holds key, with value v.
func has(data map[string]string, key, v string) bool {
	got, ok := data[key]
	return ok && got == v
}
