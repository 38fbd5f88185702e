package cluster

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"
)

// fieldManager is the server-side apply field manager of Apply.
const fieldManager = "eventmesh-tests"

// Apply creates or updates, with server-side apply, the objects in yamlDocs:
// YAML or JSON documents separated by "---" lines, each an object or a
// List of objects. Namespaced objects without a namespace go to "default".
//
// Objects are applied in order, each with its status when the YAML gives
// one. Apply waits up to ten seconds for a kind to
// appear in discovery, so a CRD and objects of its kind may be applied
// together.
func (c *Cluster) Apply(ctx context.Context, yamlDocs []byte) error {
	return c.applyAll(ctx, yamlDocs, true)
}

// ApplySpec applies the objects in yamlDocs as Apply does, but never
// their status: on a real cluster, controllers write it.
func (c *Cluster) ApplySpec(ctx context.Context, yamlDocs []byte) error {
	return c.applyAll(ctx, yamlDocs, false)
}

// applyAll applies the objects in yamlDocs, with their status when
// withStatus is set.
func (c *Cluster) applyAll(ctx context.Context, yamlDocs []byte, withStatus bool) error {
	objs, err := decodeObjects(yamlDocs)
	if err != nil {
		return err
	}
	for _, obj := range objs {
		if !withStatus {
			delete(obj.Object, "status")
		}
		if err := c.apply(ctx, obj); err != nil {
			return fmt.Errorf("applying %s %s: %w", obj.GetKind(), objectName(obj), err)
		}
	}
	return nil
}

// apply server-side applies one object.
func (c *Cluster) apply(ctx context.Context, obj *unstructured.Unstructured) error {
	if obj.GetName() == "" {
		return errors.New("object has no metadata.name")
	}
	mapping, err := c.restMapping(ctx, obj.GroupVersionKind())
	if err != nil {
		return err
	}
	var r dynamic.ResourceInterface = c.dyn.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		if obj.GetNamespace() == "" {
			obj.SetNamespace(metav1.NamespaceDefault)
		}
		r = c.dyn.Resource(mapping.Resource).Namespace(obj.GetNamespace())
	}
	opts := metav1.ApplyOptions{FieldManager: fieldManager, Force: true}
	if _, err := r.Apply(ctx, obj.GetName(), obj, opts); err != nil {
		return err
	}
	// A status in the YAML is applied too, as the object's controller,
	// which the local API server lacks, would write it.
	if _, ok := obj.Object["status"]; ok {
		if _, err := r.ApplyStatus(ctx, obj.GetName(), obj, opts); err != nil {
			return fmt.Errorf("applying its status: %w", err)
		}
	}
	return nil
}

// restMapping maps a kind to its resource, refreshing the discovery
// information until the kind appears or ten seconds have passed.
func (c *Cluster) restMapping(ctx context.Context, gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	var mapping *meta.RESTMapping
	var mapErr error
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		mapping, mapErr = c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if meta.IsNoMatchError(mapErr) {
			c.mapper.Reset()
			return false, nil
		}
		return mapErr == nil, mapErr
	})
	if mapErr != nil {
		return nil, mapErr
	}
	return mapping, err
}

// decodeObjects decodes YAML or JSON documents into objects, expanding
// Lists and skipping empty documents.
func decodeObjects(data []byte) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading YAML: %w", err)
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("decoding YAML: %w", err)
		}
		if js = bytes.TrimSpace(js); bytes.Equal(js, []byte("null")) || bytes.Equal(js, []byte("{}")) {
			continue
		}
		obj, _, err := unstructured.UnstructuredJSONScheme.Decode(js, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("decoding object: %w", err)
		}
		switch obj := obj.(type) {
		case *unstructured.Unstructured:
			objs = append(objs, obj)
		case *unstructured.UnstructuredList:
			err := obj.EachListItem(func(item runtime.Object) error {
				objs = append(objs, item.(*unstructured.Unstructured))
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
	}
}

// objectName returns namespace/name, or name for an object with no namespace.
func objectName(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return ns + "/" + obj.GetName()
	}
	return obj.GetName()
}

// ApplyKustomization builds the kustomization in dir, as `kubectl apply -k`
// does, and applies the result.
func (c *Cluster) ApplyKustomization(ctx context.Context, dir string) error {
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return fmt.Errorf("building kustomization %s: %w", dir, err)
	}
	docs, err := resources.AsYaml()
	if err != nil {
		return fmt.Errorf("rendering kustomization %s: %w", dir, err)
	}
	return c.Apply(ctx, docs)
}
