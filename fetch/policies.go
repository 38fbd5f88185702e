package fetch

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	eventingv1alpha1 "knative.dev/eventing/pkg/apis/eventing/v1alpha1"

	"github.com/knative-eventmesh/function/objects"
)

// Where Eventing keeps its feature flags, and the flag of the default
// authorization mode.
const (
	FeaturesNamespace        = "knative-eventing"
	FeaturesConfigMap        = "config-features"
	DefaultAuthorizationMode = "default-authorization-mode"
)

// eventPolicyItem is an EventPolicy as listed.
type eventPolicyItem struct {
	Metadata objectMeta                         `json:"metadata"`
	Spec     eventingv1alpha1.EventPolicySpec   `json:"spec"`
	Status   eventingv1alpha1.EventPolicyStatus `json:"status"`
}

func (p *eventPolicyItem) objectID() (string, string) { return p.Metadata.Name, p.Metadata.Namespace }

func (p *eventPolicyItem) eventPolicy() objects.EventPolicy {
	out := objects.EventPolicy{Meta: p.Metadata.meta(), Filtered: len(p.Spec.Filters) > 0, Subjects: p.Status.From}
	for _, to := range p.Spec.To {
		var t objects.PolicyTarget
		switch {
		case to.Ref != nil:
			t.Ref = &objects.Reference{APIVersion: to.Ref.APIVersion, Kind: to.Ref.Kind, Name: to.Ref.Name}
		case to.Selector != nil:
			t.Selector = &objects.PolicySelector{}
			if tm := to.Selector.TypeMeta; tm != nil {
				t.Selector.APIVersion, t.Selector.Kind = tm.APIVersion, tm.Kind
			}
			if ls := to.Selector.LabelSelector; ls != nil {
				t.Selector.MatchLabels = ls.MatchLabels
				for _, e := range ls.MatchExpressions {
					t.Selector.MatchExpressions = append(t.Selector.MatchExpressions,
						objects.SelectorRequirement{Key: e.Key, Operator: string(e.Operator), Values: e.Values})
				}
			}
		default:
			continue
		}
		out.To = append(out.To, t)
	}
	for _, from := range p.Spec.From {
		switch {
		case from.Ref != nil:
			out.From = append(out.From, objects.PolicySender{Ref: &objects.Reference{
				APIVersion: from.Ref.APIVersion, Kind: from.Ref.Kind, Namespace: from.Ref.Namespace, Name: from.Ref.Name}})
		case from.Sub != nil:
			out.From = append(out.From, objects.PolicySender{Subject: *from.Sub})
		}
	}
	return out
}

// eventPolicies lists the EventPolicies.
func (r *reader) eventPolicies(ctx context.Context) error {
	items, err := listNew[eventPolicyItem](ctx, r, eventPolicies, (*eventPolicyItem).eventPolicy)
	r.objs.EventPolicies = items
	return err
}

// authorizationMode reads Eventing's default-authorization-mode: one GET of
// config-features by name. Without the ConfigMap, or without the key,
// Eventing's default holds. A token that may not read it gets the mesh
// without it, and a Warning.
func (r *reader) authorizationMode(ctx context.Context) error {
	var cm corev1.ConfigMap
	err := r.getJSON(ctx, what("get", "configmaps named "+FeaturesConfigMap, FeaturesNamespace),
		[]string{"/api/v1/namespaces", FeaturesNamespace, "configmaps", FeaturesConfigMap}, &cm)
	switch {
	case apierrors.IsNotFound(err):
	case optional(err):
		r.warn("the default authorization mode left out: %v", leftOutReason(err))
		return nil
	case err != nil:
		return err
	}
	mode := strings.TrimSpace(cm.Data[DefaultAuthorizationMode])
	if mode == "" {
		mode = objects.AllowSameNamespace
	}
	r.objs.DefaultAuthorizationMode = mode
	return nil
}

// leftOutReason says why a part of the mesh was left out, and what to do.
func leftOutReason(err error) string {
	switch {
	case apierrors.IsForbidden(err):
		return err.Error() + " (grant the token's ServiceAccount the eventmesh-reader roles of rbac/)"
	case apierrors.IsNotFound(err):
		return err.Error() + " (the API server does not serve the resource: its CRD is not installed)"
	}
	return err.Error()
}
