package function

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports checks the one-way flow in the imports: the pure steps need
// no API client and none of the steps that do I/O, and push does not reach
// into the request path.
func TestImports(t *testing.T) {
	const module = "github.com/knative-eventmesh/function/"
	tests := []struct {
		pkg       string
		forbidden []string // import path prefixes
	}{
		{"objects", []string{"k8s.io/client-go", module}},
		{"filter", []string{"k8s.io/client-go", module + "fetch", module + "kubeclient", module + "announce"}},
		{"mesh", []string{"k8s.io/client-go", module + "fetch", module + "kubeclient", module + "announce"}},
		{"relate", []string{"k8s.io/client-go", module + "fetch", module + "kubeclient", module + "announce"}},
		{"respond", []string{"k8s.io/client-go", module + "fetch", module + "kubeclient", module + "announce"}},
		{"asyncapi", []string{"k8s.io/client-go", module + "fetch", module + "kubeclient", module + "announce", module + "relate", module + "respond"}},
		{"announce", []string{module + "respond", module + "fetch"}},
	}
	for _, tt := range tests {
		out, err := exec.Command("go", "list", "-deps", "./"+tt.pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps ./%s: %v", tt.pkg, err)
		}
		deps := strings.Fields(string(out))
		if len(deps) == 0 {
			t.Fatalf("go list -deps ./%s listed nothing", tt.pkg)
		}
		for _, dep := range deps {
			for _, f := range tt.forbidden {
				if strings.HasPrefix(dep, f) && dep != module+tt.pkg {
					t.Errorf("%s depends on %s", tt.pkg, dep)
				}
			}
		}
	}
}
