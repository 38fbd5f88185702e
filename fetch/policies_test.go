package fetch

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/knative-eventmesh/function/kubeclient"
	"github.com/knative-eventmesh/function/objects"
)

func TestAuthorizationMode(t *testing.T) {
	features := func(data map[string]string) runtime.Object {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: FeaturesConfigMap, Namespace: FeaturesNamespace}, Data: data}
	}
	tests := []struct {
		name    string
		objects []runtime.Object
		err     error // of every get
		want    string
		warning string
		fails   bool
	}{
		{name: "set", objects: []runtime.Object{features(map[string]string{DefaultAuthorizationMode: " deny-all\n"})}, want: objects.DenyAll},
		{name: "key missing", objects: []runtime.Object{features(map[string]string{"authentication-oidc": "enabled"})}, want: objects.AllowSameNamespace},
		{name: "ConfigMap missing", want: objects.AllowSameNamespace},
		{name: "elsewhere", objects: []runtime.Object{&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: FeaturesConfigMap, Namespace: "other"},
			Data: map[string]string{DefaultAuthorizationMode: objects.AllowAll}}}, want: objects.AllowSameNamespace},
		{name: "forbidden", err: apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, FeaturesConfigMap, nil),
			warning: "the default authorization mode left out", want: ""},
		{name: "server error", err: apierrors.NewInternalError(errors.New("etcd is down")), fails: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset(tt.objects...)
			if tt.err != nil {
				client.PrependReactor("get", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, tt.err })
			}
			r := &reader{c: &kubeclient.Clients{Core: client.CoreV1()}, objs: &objects.Set{}, inFlight: make(chan struct{}, 1)}
			err := r.authorizationMode(context.Background())
			if (err != nil) != tt.fails {
				t.Fatalf("error %v, want an error: %v", err, tt.fails)
			}
			if r.objs.DefaultAuthorizationMode != tt.want {
				t.Errorf("mode %q, want %q", r.objs.DefaultAuthorizationMode, tt.want)
			}
			if w := strings.Join(r.objs.Warnings, "\n"); !strings.Contains(w, tt.warning) || (tt.warning == "") != (w == "") {
				t.Errorf("warnings %q, want one saying %q", w, tt.warning)
			}
		})
	}
}
