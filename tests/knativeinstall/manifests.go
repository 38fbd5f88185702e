// Package knativeinstall installs Knative Serving, with Traefik as its
// ingress, and Knative Eventing into make knative's cluster: from the
// manifests in the releases' Go modules (config/core), with the images
// built from the same modules and served by the local registry.
package knativeinstall

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// Images maps each ko:// import path of Knative's manifests, such as
// "knative.dev/serving/cmd/controller", to the image that replaces it.
type Images map[string]string

// An edit changes one object of a manifest before it is applied.
type edit func(obj *unstructured.Unstructured) error

// manifests reads the YAML files under dirs, in path order (as
// `kubectl apply -R -f dir` does), replaces their ko:// images, applies
// edits, and returns the objects as JSON documents separated by "---"
// lines: Namespaces and CRDs first, as objects of a kind need its CRD
// (Serving's config/core has a Certificate before the Certificate CRD).
func manifests(dirs []string, images Images, edits ...edit) ([]byte, error) {
	var files []string
	for _, dir := range dirs {
		var inDir []string
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
				inDir = append(inDir, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("listing manifests: %w", err)
		}
		sort.Strings(inDir)
		files = append(files, inDir...)
	}
	var first, rest bytes.Buffer
	for _, f := range files {
		if err := appendManifest(&first, &rest, f, images, edits); err != nil {
			return nil, fmt.Errorf("reading %s: %w", f, err)
		}
	}
	return append(first.Bytes(), rest.Bytes()...), nil
}

// appendManifest appends the objects of one file to first (Namespaces and
// CRDs) or rest.
func appendManifest(first, rest *bytes.Buffer, path string, images Images, edits []edit) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if err.Error() == "EOF" {
				return nil
			}
			return err
		}
		if len(m) == 0 {
			continue
		}
		v, err := replaceImages(m, images)
		if err != nil {
			return err
		}
		obj := &unstructured.Unstructured{Object: v.(map[string]any)}
		for _, e := range edits {
			if err := e(obj); err != nil {
				return fmt.Errorf("editing %s %s: %w", obj.GetKind(), obj.GetName(), err)
			}
		}
		doc, err := json.Marshal(obj.Object)
		if err != nil {
			return err
		}
		out := rest
		if k := obj.GetKind(); k == "Namespace" || k == "CustomResourceDefinition" {
			out = first
		}
		out.WriteString("---\n")
		out.Write(doc)
		out.WriteString("\n")
	}
}

// replaceImages returns v with each "ko://path" string replaced by the
// image of path.
func replaceImages(v any, images Images) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			r, err := replaceImages(x, images)
			if err != nil {
				return nil, err
			}
			v[k] = r
		}
	case []any:
		for i, x := range v {
			r, err := replaceImages(x, images)
			if err != nil {
				return nil, err
			}
			v[i] = r
		}
	case string:
		if p, ok := strings.CutPrefix(v, "ko://"); ok {
			img, ok := images[p]
			if !ok {
				return nil, fmt.Errorf("no image built for %s", p)
			}
			return img, nil
		}
	}
	return v, nil
}

// setConfigMapData returns an edit that sets keys of one ConfigMap's data.
func setConfigMapData(namespace, name string, data map[string]string) edit {
	return func(obj *unstructured.Unstructured) error {
		if obj.GetKind() != "ConfigMap" || obj.GetNamespace() != namespace || obj.GetName() != name {
			return nil
		}
		for k, v := range data {
			if err := unstructured.SetNestedField(obj.Object, v, "data", k); err != nil {
				return err
			}
		}
		return nil
	}
}
