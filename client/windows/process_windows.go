package windows

import (
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// procSpec is a process to run.
type procSpec struct {
	Path     string   // the executable, absolute
	CmdLine  string   // the whole command line, program first
	Env      []string // set over the agent's environment ("NAME=value")
	Dir      string   // working directory; "" keeps the agent's
	Deadline time.Time
}

// procResult is how it ended.
type procResult struct {
	ExitCode int32 // as Windows reports it: 0x80240017 is negative
	Output   string
	TimedOut bool
}

const (
	createSuspended        = 0x00000004
	createBreakawayFromJob = 0x01000000
	createNoWindow         = 0x08000000
	th32csSnapThread       = 0x00000004
	threadSuspendResume    = 0x0002
	waitTimeout            = 0x00000102
)

// runProcess runs spec in a job object that kills the whole process tree
// when the job is closed: at the deadline, and when the process ends (what
// it leaves behind ends with it, so nothing holds its output open). The
// deadline is kept on the process itself, not on its output: a child that
// closes its pipes early is still killed on time. Output (stdout and
// stderr together, stdin the NUL device) keeps its last 64 KiB.
func runProcess(spec procSpec) (procResult, error) {
	var res procResult
	if err := need(procCreateJobObjectW, procSetInformationJobObject, procAssignProcessToJobObject,
		procTerminateJobObject, procOpenThread, procResumeThread, procThread32First, procThread32Next); err != nil {
		return res, err
	}
	job, err := newKillOnCloseJob()
	if err != nil {
		return res, fmt.Errorf("cannot create a job object: %v", err)
	}
	defer syscall.CloseHandle(job)

	pr, pw, err := os.Pipe()
	if err != nil {
		return res, fmt.Errorf("cannot create a pipe: %v", err)
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		pr.Close()
		pw.Close()
		return res, fmt.Errorf("cannot open %s: %v", os.DevNull, err)
	}
	attr := &syscall.ProcAttr{
		Dir:   spec.Dir,
		Env:   mergeEnv(os.Environ(), spec.Env),
		Files: []uintptr{null.Fd(), pw.Fd(), pw.Fd()},
		Sys: &syscall.SysProcAttr{
			CmdLine:    spec.CmdLine,
			HideWindow: true,
			// Suspended until it is in the job, so no child of it escapes.
			// Out of any job the agent itself runs in: Windows 7 has no
			// nested jobs.
			CreationFlags: createSuspended | createNoWindow | createBreakawayFromJob,
		},
	}
	pid, handle, err := syscall.StartProcess(spec.Path, nil, attr)
	if err == syscall.ERROR_ACCESS_DENIED {
		// The agent's own job forbids breaking away: stay in it.
		attr.Sys.CreationFlags &^= createBreakawayFromJob
		pid, handle, err = syscall.StartProcess(spec.Path, nil, attr)
	}
	pw.Close()
	null.Close()
	if err != nil {
		pr.Close()
		return res, fmt.Errorf("cannot start %s: %w", spec.Path, err)
	}
	proc := syscall.Handle(handle)
	defer syscall.CloseHandle(proc)

	r, _, e := procAssignProcessToJobObject.Call(uintptr(job), uintptr(proc))
	if r == 0 {
		syscall.TerminateProcess(proc, 1)
		pr.Close()
		return res, fmt.Errorf("cannot put %s in a job object (is the agent in a job that forbids breakaway?): %v",
			spec.Path, lastError(e))
	}
	if err := resumeProcess(uint32(pid)); err != nil {
		syscall.TerminateProcess(proc, 1)
		pr.Close()
		return res, fmt.Errorf("cannot resume %s: %v", spec.Path, err)
	}

	tail := newTailBuffer(outputLimit)
	readDone := make(chan struct{})
	go func() {
		io.Copy(tail, pr)
		pr.Close()
		close(readDone)
	}()

	ms := time.Until(spec.Deadline).Milliseconds()
	if ms < 0 {
		ms = 0
	}
	if ms > 0xfffffffe {
		ms = 0xfffffffe
	}
	ev, err := syscall.WaitForSingleObject(proc, uint32(ms))
	if err != nil {
		ev = waitTimeout // cannot wait: end it rather than leave it running
	}
	ended := ev == syscall.WAIT_OBJECT_0
	if !ended {
		res.TimedOut = true
		procTerminateJobObject.Call(uintptr(job), 1)
		ev, err = syscall.WaitForSingleObject(proc, 10000)
		ended = err == nil && ev == syscall.WAIT_OBJECT_0
	}
	var code uint32
	if err := syscall.GetExitCodeProcess(proc, &code); err == nil {
		res.ExitCode, _ = reportedExitCode(ended, code)
	}
	// What the process left behind goes now, so the pipe closes.
	procTerminateJobObject.Call(uintptr(job), 1)
	select {
	case <-readDone:
	case <-time.After(5 * time.Second):
		// A process outside the job still holds the pipe; its reader ends
		// when it does.
	}
	res.Output = processOutput(tail, oemText)
	return res, nil
}

// newKillOnCloseJob is a job object that kills its processes when its
// last handle closes.
func newKillOnCloseJob() (syscall.Handle, error) {
	h, _, e := procCreateJobObjectW.Call(0, 0)
	if h == 0 {
		return 0, lastError(e)
	}
	size := jobLimitInfoSize(unsafe.Sizeof(uintptr(0)))
	r, _, e := procSetInformationJobObject.Call(h, jobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&killOnClose[0])), size)
	if r == 0 {
		syscall.CloseHandle(syscall.Handle(h))
		return 0, lastError(e)
	}
	return syscall.Handle(h), nil
}

// threadEntry32 is THREADENTRY32.
type threadEntry32 struct {
	size           uint32
	usage          uint32
	threadID       uint32
	ownerProcessID uint32
	basePri        int32
	deltaPri       int32
	flags          uint32
}

// resumeProcess resumes the threads of a process created suspended (its
// main thread: syscall.StartProcess does not return the thread handle).
func resumeProcess(pid uint32) error {
	snap, err := syscall.CreateToolhelp32Snapshot(th32csSnapThread, 0)
	if err != nil {
		return fmt.Errorf("thread snapshot: %v", err)
	}
	defer syscall.CloseHandle(snap)
	var te threadEntry32
	te.size = uint32(unsafe.Sizeof(te))
	resumed := 0
	r, _, e := procThread32First.Call(uintptr(snap), uintptr(unsafe.Pointer(&te)))
	for r != 0 {
		if te.ownerProcessID == pid {
			th, _, e := procOpenThread.Call(threadSuspendResume, 0, uintptr(te.threadID))
			if th == 0 {
				return fmt.Errorf("OpenThread %d: %v", te.threadID, lastError(e))
			}
			n, _, e := procResumeThread.Call(th)
			syscall.CloseHandle(syscall.Handle(th))
			if n == 0xffffffff {
				return fmt.Errorf("ResumeThread %d: %v", te.threadID, lastError(e))
			}
			resumed++
		}
		te.size = uint32(unsafe.Sizeof(te))
		r, _, e = procThread32Next.Call(uintptr(snap), uintptr(unsafe.Pointer(&te)))
	}
	if resumed == 0 {
		return fmt.Errorf("no thread of process %d found (%v)", pid, lastError(e))
	}
	return nil
}

// oemText decodes console output in the OEM code page (CP850 on a French
// Windows), which is what netsh, wusa and cmd write to a pipe.
func oemText(b []byte) string {
	if len(b) == 0 || need(procMultiByteToWideChar) != nil {
		return decodeOutput(b, nil)
	}
	const cpOEM = 1
	n, _, _ := procMultiByteToWideChar.Call(cpOEM, 0, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0, 0)
	if n == 0 {
		return decodeOutput(b, nil)
	}
	u := make([]uint16, n)
	n, _, _ = procMultiByteToWideChar.Call(cpOEM, 0, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
		uintptr(unsafe.Pointer(&u[0])), n)
	return syscall.UTF16ToString(u[:n])
}
