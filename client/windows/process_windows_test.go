package windows

import (
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"purser/client/agent"
	pb "purserpb/v1"
)

func runCommand(e *Executor, timeout time.Duration, argv ...string) agent.ActionResult {
	return e.Run(&pb.Step{Id: "cmd", Action: &pb.Step_RunCommand{RunCommand: &pb.RunCommand{Argv: argv}}}, nil, timeout)
}

func standin(name string) string { return standinPath + `\` + name }

func TestRunCommandReturnsExitCodesExactly(t *testing.T) {
	e := newTestExecutor(t)
	for _, c := range []struct {
		arg  string
		want int32
	}{{"0", 0}, {"3010", 3010}, {"1641", 1641}, {"0x00240006", 0x00240006}, {"0x80240017", -2145124329}, {"0x80070643", -2147023293}} {
		r := runCommand(e, time.Minute, standin("exitcode.exe"), c.arg)
		if r.Outcome != pb.StepOutcome_STEP_OUTCOME_UNSPECIFIED || r.ExitCode != c.want {
			t.Errorf("exit %s: got %s exit code %d (%#x), want %d", c.arg, r.Outcome, r.ExitCode, uint32(r.ExitCode), c.want)
		}
	}
}

func TestArgvQuotingRoundTrip(t *testing.T) {
	e := newTestExecutor(t)
	args := []string{"plain", "two words", `C:\Program Files\x\`, `quote"inside`, `back\"slash`, "", `\\server\share\`, "tab\there", `OPINSIGHTS_WORKSPACE_KEY=ab+/c==`}
	mark := logMark()
	if r := runCommand(e, time.Minute, append([]string{standin("echoargs.exe")}, args...)...); r.ExitCode != 0 {
		t.Fatalf("echoargs: %+v", r)
	}
	calls := standinCalls(t, mark)
	if len(calls) != 1 {
		t.Fatalf("calls %+v", calls)
	}
	if got := calls[0].Argv[1:]; !reflect.DeepEqual(got, args) {
		t.Errorf("CommandLineToArgvW gives back %q from %s, want %q", got, calls[0].CmdLine, args)
	}
}

// processGone reports whether pid has exited (or no longer exists).
func processGone(pid int) bool {
	const synchronize = 0x00100000
	h, err := syscall.OpenProcess(synchronize, false, uint32(pid))
	if err != nil {
		return true
	}
	defer syscall.CloseHandle(h)
	ev, _ := syscall.WaitForSingleObject(h, 3000)
	return ev == syscall.WAIT_OBJECT_0
}

func TestRunCommandTimeoutKillsTheProcessTree(t *testing.T) {
	e := newTestExecutor(t)
	mark := logMark()
	start := time.Now()
	r := runCommand(e, 3*time.Second, standin("sleeper.exe"), "tree")
	took := time.Since(start)
	want(t, "sleeper tree", r, pb.StepOutcome_STEP_OUTCOME_FAILED, pb.ErrorClass_ERROR_CLASS_TIMEOUT, "did not finish within 3s")
	if took > 20*time.Second {
		t.Errorf("took %s for a 3 s timeout", took)
	}
	var pids []int
	for _, c := range standinCalls(t, mark) {
		pids = append(pids, c.PID)
		if strings.HasPrefix(c.Note, "child=") {
			n, _ := strconv.Atoi(strings.TrimPrefix(c.Note, "child="))
			pids = append(pids, n)
		}
	}
	if len(pids) < 3 { // parent, child's own record, parent's note naming the child
		t.Fatalf("the sleeper tree did not start: %v", pids)
	}
	for _, pid := range pids {
		if !processGone(pid) {
			t.Errorf("process %d outlived the timeout", pid)
		}
	}
}

func TestRunCommandDeadlineHoldsWhenOutputCloses(t *testing.T) {
	e := newTestExecutor(t)
	start := time.Now()
	r := runCommand(e, 2*time.Second, standin("sleeper.exe"), "closepipes")
	want(t, "closed pipes", r, pb.StepOutcome_STEP_OUTCOME_FAILED, pb.ErrorClass_ERROR_CLASS_TIMEOUT, "did not finish within 2s")
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("took %s for a 2 s timeout", took)
	}
}

func TestRunCommandKeepsTheOutputTail(t *testing.T) {
	e := newTestExecutor(t)
	r := runCommand(e, time.Minute, standin("chatty.exe"), "300000")
	if r.ExitCode != 0 || !strings.HasSuffix(r.Output, "END") || len(r.Output) > outputLimit+100 ||
		!strings.HasPrefix(r.Output, "[") || !strings.Contains(r.Output, "earlier bytes of output dropped]") {
		t.Errorf("exit %d, %d bytes of output starting %.60q", r.ExitCode, len(r.Output), r.Output)
	}
}

func TestRunCommandNamesAMissingProgram(t *testing.T) {
	e := newTestExecutor(t)
	r := runCommand(e, time.Minute, "purser-no-such-program")
	want(t, "missing", r, pb.StepOutcome_STEP_OUTCOME_FAILED, pb.ErrorClass_ERROR_CLASS_AGENT, "cannot find purser-no-such-program")
	r = runCommand(e, time.Minute, standin("exitcode.exe"), "${missing}")
	want(t, "missing param", r, pb.StepOutcome_STEP_OUTCOME_FAILED, pb.ErrorClass_ERROR_CLASS_AGENT, `parameter "missing" has no value`)
}
