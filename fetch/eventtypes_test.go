package fetch

import "testing"

// TestStorageVersionHash checks the hash against what a kube-apiserver
// 1.37 serves in /apis/eventing.knative.dev/v1beta2 for eventtypes stored
// at v1beta2.
func TestStorageVersionHash(t *testing.T) {
	if got, want := storageVersionHash("eventing.knative.dev", "v1beta2", "EventType"), "EkqLcIGqbl4="; got != want {
		t.Errorf("storageVersionHash = %q, want the API server's %q", got, want)
	}
	if storageVersionHash("eventing.knative.dev", "v1beta3", "EventType") == storageVersionHash("eventing.knative.dev", "v1beta2", "EventType") {
		t.Error("v1beta2 and v1beta3 hash alike")
	}
}
