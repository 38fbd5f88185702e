package main

import (
	"os"
	"testing"
)

// TestSandboxNet checks the sandbox's names and its link's addresses,
// and that bad ones are refused.
func TestSandboxNet(t *testing.T) {
	tests := []struct {
		name, net     string
		host, sandbox string
		link, cgroup  string
		wantErr       bool
	}{
		{name: "knative", net: "10.243.255.0/30", host: "10.243.255.1", sandbox: "10.243.255.2", link: "emesh-knative", cgroup: "eventmesh-knative"},
		{name: "crash", net: "10.243.252.0/24", host: "10.243.252.1", sandbox: "10.243.252.2", link: "emesh-crash", cgroup: "eventmesh-crash"},
		{name: "toolongname", net: "10.243.255.0/30", wantErr: true},
		{name: "", net: "10.243.255.0/30", wantErr: true},
		{name: "a/b", net: "10.243.255.0/30", wantErr: true},
		{name: "Knative", net: "10.243.255.0/30", wantErr: true},
		{name: "knative", net: "10.243.255.0/31", wantErr: true},
		{name: "knative", net: "fd00::/64", wantErr: true},
		{name: "knative", net: "nonsense", wantErr: true},
	}
	for _, tt := range tests {
		o := options{name: tt.name, vethNet: tt.net}
		a, err := o.sandboxNet()
		if (err != nil) != tt.wantErr {
			t.Errorf("-name %q -veth-net %q: error %v, want error %v", tt.name, tt.net, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if a.host.String() != tt.host || a.sandbox.String() != tt.sandbox {
			t.Errorf("-veth-net %q: host %s, sandbox %s; want %s, %s", tt.net, a.host, a.sandbox, tt.host, tt.sandbox)
		}
		if o.linkName() != tt.link || o.cgroupName() != tt.cgroup {
			t.Errorf("-name %q: link %s, cgroup %s; want %s, %s", tt.name, o.linkName(), o.cgroupName(), tt.link, tt.cgroup)
		}
	}
}

// TestRecordRunning checks that a record of this process says it runs,
// and that one with another start time or boot says it does not: after
// a reboot, the pid may be another process's.
func TestRecordRunning(t *testing.T) {
	st, err := startTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	boot, err := bootID()
	if err != nil {
		t.Fatal(err)
	}
	rec := &sandboxRecord{PID: os.Getpid(), StartTime: st, BootID: boot}
	if !rec.running() {
		t.Error("a record of this process: not running")
	}
	other := *rec
	other.StartTime = "1"
	if other.running() {
		t.Error("a record with another start time: running")
	}
	other = *rec
	other.BootID = "another-boot"
	if other.running() {
		t.Error("a record of another boot: running")
	}
	var none *sandboxRecord
	if none.running() {
		t.Error("no record: running")
	}
}
