// Package demo holds a small event mesh, for `make run` and the tests.
package demo

import _ "embed"

// YAML is the demo mesh: namespaces shop and finance, with brokers,
// EventTypes, Triggers of every kind of filter, a channel with a
// Subscription, a PingSource, and subscribers labelled
// backstage.io/kubernetes-id.
//
//go:embed demo.yaml
var YAML []byte
