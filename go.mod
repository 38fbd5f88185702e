module github.com/knative-eventmesh/function

go 1.26.0
