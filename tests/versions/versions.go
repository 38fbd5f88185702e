// Package versions holds the versions of Knative, Traefik and Kubernetes
// that make knative runs and the tests install. They are read from
// versions.txt, which the Makefile reads too; TestGoModsAgree checks that
// the go.mod files that build them require the same.
package versions

import (
	_ "embed"
	"strings"
)

// The modules whose versions versions.txt holds.
const (
	ServingModule    = "knative.dev/serving"
	EventingModule   = "knative.dev/eventing"
	TraefikModule    = "github.com/traefik/traefik/v3"
	KubernetesModule = "k8s.io/kubernetes"
)

//go:embed versions.txt
var file string

var pinned = parse(file)

// The versions, as versions.txt holds them (its tests check that none is
// missing).
var (
	Serving    = pinned[ServingModule]
	Eventing   = pinned[EventingModule]
	Traefik    = pinned[TraefikModule]
	Kubernetes = pinned[KubernetesModule]
)

// Query returns module@version, as go list and go mod download take it,
// for a module of versions.txt.
func Query(module string) string { return module + "@" + pinned[module] }

// parse reads lines of "module version"; # starts a comment.
func parse(text string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && !strings.HasPrefix(f[0], "#") {
			m[f[0]] = f[1]
		}
	}
	return m
}
