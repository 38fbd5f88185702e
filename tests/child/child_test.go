package child

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStopGraceful checks that a program that exits on SIGTERM is
// stopped without a kill.
func TestStopGraceful(t *testing.T) {
	p, err := Start(exec.Command("sleep", "60"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Exited(); err != nil {
		t.Fatalf("Exited while running: %v", err)
	}
	took, err := p.Stop(10 * time.Second)
	if err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if took >= 10*time.Second {
		t.Errorf("Stop took %v: it waited for the grace period", took)
	}
	if err := p.Exited(); err == nil || !strings.Contains(err.Error(), "signal: terminated") {
		t.Errorf("Exited after Stop: %v, want terminated", err)
	}
}

// TestStopKills checks that a program that ignores SIGTERM is killed
// after the grace period, and that Stop says so.
func TestStopKills(t *testing.T) {
	// The shell ignores SIGTERM; it says so once the trap is set.
	cmd := exec.Command("sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.1; done")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p, err := Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := out.Read(buf); err != nil {
		t.Fatal(err)
	}
	took, err := p.Stop(300 * time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "killed it") {
		t.Errorf("Stop: %v, want an error that says it killed sh", err)
	}
	if took < 300*time.Millisecond {
		t.Errorf("Stop took %v, less than the grace period", took)
	}
	select {
	case <-p.Done():
	default:
		t.Error("Done is open after Stop returned")
	}
}

// TestStopExited checks that Stop of a process that has exited returns
// at once, without an error.
func TestStopExited(t *testing.T) {
	p, err := Start(exec.Command("true"))
	if err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	if _, err := p.Stop(time.Second); err != nil {
		t.Errorf("Stop after exit: %v", err)
	}
	if err := p.Exited(); err == nil || !strings.Contains(err.Error(), "exit status 0") {
		t.Errorf("Exited: %v, want exit status 0", err)
	}
}

// TestStartFails checks that a program that cannot start is an error
// naming it.
func TestStartFails(t *testing.T) {
	_, err := Start(exec.Command("/nonexistent/eventmesh-program"))
	if err == nil || !strings.Contains(err.Error(), "eventmesh-program") {
		t.Errorf("Start: %v, want an error naming the program", err)
	}
}

// helperEnv makes the test binary, run again, start sleep as a child and
// wait to be killed: TestDiesWithParent's parent.
const helperEnv = "EVENTMESH_CHILD_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		p, err := Start(exec.Command("sleep", "60"))
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println(p.Pid())
		select {}
	}
	os.Exit(m.Run())
}

// TestDiesWithParent kills a process that started a child with SIGKILL,
// and checks that the child dies too.
func TestDiesWithParent(t *testing.T) {
	helper := exec.Command(os.Args[0], "-test.run=^$")
	helper.Env = append(os.Environ(), helperEnv+"=1")
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Fscan(out, &pid); err != nil {
		t.Fatalf("reading the child's pid: %v", err)
	}
	_ = helper.Process.Kill()
	_ = helper.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the child (pid %d) survived its parent by 5 s", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive says whether pid runs: it exists and is no zombie.
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(data), ')')
	return i > 0 && len(data) > i+2 && data[i+2] != 'Z'
}
