module github.com/knative-eventmesh/function/tests/mutantcheck

go 1.26
