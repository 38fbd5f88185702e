// Package child runs programs as child processes of a test or of the
// harness: Start starts one so that it dies with its parent, Stop asks it
// to exit and kills it after a grace period, and either way it is reaped.
package child

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A Process is a started child process.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts cmd, and reaps it when it exits. The kernel kills it
// (SIGKILL) when this process dies, even if this process is killed.
func Start(cmd *exec.Cmd) (*Process, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", filepath.Base(cmd.Path), err)
	}
	p := &Process{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process's id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited and is reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited returns nil while the process runs; once it has exited, an
// error that says how.
func (p *Process) Exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited: %s", filepath.Base(p.cmd.Path), p.cmd.ProcessState)
	default:
		return nil
	}
}

// Stop sends SIGTERM, and SIGKILL if the process has not exited after
// grace. It returns once the process is reaped, with how long it took to
// exit after SIGTERM, and an error if it had to be killed.
func (p *Process) Stop(grace time.Duration) (time.Duration, error) {
	return p.StopWith(syscall.SIGTERM, grace)
}

// StopWith is Stop with another signal than SIGTERM.
func (p *Process) StopWith(sig syscall.Signal, grace time.Duration) (time.Duration, error) {
	start := time.Now()
	select {
	case <-p.done:
		return 0, nil
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return time.Since(start), nil
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return time.Since(start), fmt.Errorf("%s did not exit within %s of %s; killed it", filepath.Base(p.cmd.Path), grace, unix.SignalName(sig))
}

// Kill kills the process at once (SIGKILL), and returns once it is
// reaped.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}
