package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/knative-eventmesh/function/tests/versions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// The Knative modules the CRDs are read from, at the versions of
// tests/versions. The Eventing version is the one this binary is built
// with, if it is built with Eventing at all.
const (
	eventingModule = versions.EventingModule
	servingModule  = versions.ServingModule
)

var (
	defaultEventingVersion = versions.Eventing
	servingVersion         = versions.Serving
)

// knativeCRDs reads the Knative Eventing and Serving CRDs from the Go module
// cache, downloading the modules if needed. It runs the go command in dir.
func knativeCRDs(eventing, serving string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	opts := envtest.CRDInstallOptions{
		Paths: []string{
			filepath.Join(eventing, "config", "core", "resources"),
			filepath.Join(eventing, "config", "channels", "in-memory-channel", "resources"),
			filepath.Join(serving, "config", "core", "300-resources", "service.yaml"),
		},
		ErrorIfPathMissing: true,
	}
	// ReadCRDFiles skips documents that are not CRDs.
	if err := envtest.ReadCRDFiles(&opts); err != nil {
		return nil, err
	}
	if len(opts.CRDs) == 0 {
		return nil, fmt.Errorf("no CRDs in %s", strings.Join(opts.Paths, ", "))
	}
	slices.SortFunc(opts.CRDs, func(a, b *apiextensionsv1.CustomResourceDefinition) int {
		return strings.Compare(a.Name, b.Name)
	})
	for _, crd := range opts.CRDs {
		dropConversionWebhook(crd)
	}
	return opts.CRDs, nil
}

// dropConversionWebhook makes a CRD that converts through a webhook convert
// with strategy None instead, as there is no Eventing webhook to call.
func dropConversionWebhook(crd *apiextensionsv1.CustomResourceDefinition) {
	if conv := crd.Spec.Conversion; conv != nil && conv.Strategy == apiextensionsv1.WebhookConverter {
		crd.Spec.Conversion = &apiextensionsv1.CustomResourceConversion{Strategy: apiextensionsv1.NoneConverter}
	}
}

// eventingModuleVersion returns the module@version of Knative Eventing this
// binary is built with, or the default version.
func eventingModuleVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return eventingModule + "@" + defaultEventingVersion
	}
	for _, dep := range info.Deps {
		if dep.Path != eventingModule {
			continue
		}
		if r := dep.Replace; r != nil && r.Version != "" {
			return r.Path + "@" + r.Version
		}
		if dep.Replace == nil && dep.Version != "" && dep.Version != "(devel)" {
			return dep.Path + "@" + dep.Version
		}
	}
	return eventingModule + "@" + defaultEventingVersion
}

// moduleDirs returns the module cache directories of the given
// module@version queries, running `go mod download` in dir.
func moduleDirs(ctx context.Context, dir string, queries ...string) ([]string, error) {
	cmd := exec.CommandContext(ctx, "go", append([]string{"mod", "download", "-json"}, queries...)...)
	cmd.Dir = dir // outside any module, so no go.mod or go.sum is touched
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()

	found := make(map[string]string) // module@version to directory
	dec := json.NewDecoder(&stdout)
	for {
		var m struct{ Path, Version, Dir, Error string }
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go mod download: %w (%v) %s", err, runErr, stderr.Bytes())
		}
		if m.Error != "" {
			return nil, fmt.Errorf("go mod download %s@%s: %s", m.Path, m.Version, m.Error)
		}
		found[m.Path+"@"+m.Version] = m.Dir
	}
	dirs := make([]string, len(queries))
	for i, q := range queries {
		if dirs[i] = found[q]; dirs[i] == "" {
			return nil, fmt.Errorf("go mod download %s: %v %s", q, runErr, stderr.Bytes())
		}
	}
	return dirs, nil
}

// applyKnativeRoles installs the ClusterRoles Eventing ships for reading
// sources, labelled duck.knative.dev/source=true, as an Eventing install
// would: RBAC that aggregates by that label depends on them.
func (c *Cluster) applyKnativeRoles(ctx context.Context, eventing string) error {
	path := filepath.Join(eventing, "config", "core", "roles", "source-observer-clusterrole.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading Eventing's ClusterRoles: %w", err)
	}
	if err := c.Apply(ctx, data); err != nil {
		return fmt.Errorf("applying %s: %w", path, err)
	}
	return nil
}

// ModuleDir returns the module cache directory of a module@version, such
// as "knative.dev/serving@v0.50.0", downloading it if needed.
func ModuleDir(ctx context.Context, query string) (string, error) {
	tmp, err := os.MkdirTemp("", "eventmesh-modules-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	dirs, err := moduleDirs(ctx, tmp, query)
	if err != nil {
		return "", err
	}
	return dirs[0], nil
}
