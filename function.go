// Package function is the Knative Event Mesh function.
package function

import "net/http"

// Function serves the Knative Eventing mesh of a cluster.
type Function struct{}

// New returns a Function; func's scaffolding calls it once per instance.
func New() *Function { return &Function{} }

// Handle serves a request.
func (f *Function) Handle(w http.ResponseWriter, r *http.Request) {}
