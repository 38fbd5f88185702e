// Command function serves the function the way func's scaffolding does:
// the main that `func build` generates for a Go HTTP function with an
// instance (New). LISTEN_ADDRESS, KUBECONFIG and the function's settings
// come from the environment.
//
// The benchmark (tests/bench) runs it as a separate process, to measure its
// cold start and its peak memory.
package main

import (
	"fmt"
	"os"

	fhttp "knative.dev/func-go/http"

	function "github.com/knative-eventmesh/function"
)

func main() {
	if err := fhttp.Start(function.New()); err != nil {
		fmt.Fprintln(os.Stderr, err.Error())
		os.Exit(1)
	}
}
