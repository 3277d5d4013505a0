package windows

// Stand-ins for the Windows tools, for the tests under Wine. The test
// binary is its own stand-in: TestMain copies it under each tool's name
// (wusa.exe, MMASetup-AMD64.exe, setup.exe, msiexec.exe, netsh.exe,
// powershell.exe, and helpers), and a copy started under such a name acts
// the tool instead of running tests. No build step is needed inside Wine,
// and the stand-ins share the package's own code (registry writes,
// WinHttpSettings).
//
// Each stand-in appends what it was given (its raw command line, as
// GetCommandLine returns it) to the log named by $PURSER_STANDIN_LOG, and
// answers as the real tool would: an exit code read from a ".answer" file
// (for wusa, the .msu's own content), with the tool's own meaning.

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf16"
	"unsafe"
)

const (
	envStandinLog   = "PURSER_STANDIN_LOG"
	envStandinDir   = "PURSER_STANDIN_DIR"
	standinMMAState = "mma-state.json"
)

// standinRecord is one line of the stand-in log.
type standinRecord struct {
	Tool    string   `json:"tool"`
	CmdLine string   `json:"cmdline"`
	Argv    []string `json:"argv"` // as CommandLineToArgvW splits it
	PID     int      `json:"pid"`
	Note    string   `json:"note,omitempty"`
}

var standins = map[string]func(args []string) int{
	"wusa.exe":           standinWusa,
	"mmasetup-amd64.exe": standinExtractor,
	"setup.exe":          standinSetup,
	"msiexec.exe":        standinMsiexec,
	"netsh.exe":          standinNetsh,
	"powershell.exe":     standinPowerShell,
	"exitcode.exe":       standinExitCode,
	"echoargs.exe":       func([]string) int { return 0 },
	"sleeper.exe":        standinSleeper,
	"chatty.exe":         standinChatty,
}

// runStandin acts the tool this executable is named after, if it is one.
func runStandin() (int, bool) {
	name := strings.ToLower(filepath.Base(os.Args[0]))
	fn, ok := standins[name]
	if !ok {
		return 0, false
	}
	logStandin(name, "")
	return fn(os.Args[1:]), true
}

func rawCommandLine() string {
	return syscall.UTF16ToString((*[32768]uint16)(unsafe.Pointer(syscall.GetCommandLine()))[:]) // a command line is at most 32767 characters
}

func logStandin(tool, note string) {
	path := os.Getenv(envStandinLog)
	if path == "" {
		return
	}
	raw := rawCommandLine()
	argv, _ := commandLineToArgv(raw)
	rec, _ := json.Marshal(standinRecord{Tool: tool, CmdLine: raw, Argv: argv, PID: os.Getpid(), Note: note})
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	f.Write(append(rec, '\n'))
}

// commandLineToArgv splits a command line with Windows' own
// CommandLineToArgvW (shell32), the reference for C-runtime quoting.
func commandLineToArgv(cmd string) ([]string, error) {
	p, err := syscall.UTF16PtrFromString(cmd)
	if err != nil {
		return nil, err
	}
	var n int32
	argv, err := syscall.CommandLineToArgv(p, &n)
	if err != nil {
		return nil, err
	}
	defer syscall.LocalFree(syscall.Handle(uintptr(unsafe.Pointer(argv))))
	out := make([]string, n)
	for i := range out {
		out[i] = syscall.UTF16ToString((*argv[i])[:])
	}
	return out, nil
}

// answer reads "key=value" lines of an answer file.
func answer(path, key string) (string, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

func answerCode(path, key string, fallback int) int {
	v, ok := answer(path, key)
	if !ok {
		return fallback
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 0, 64)
	if err != nil {
		return 99
	}
	return int(int32(n))
}

func standinDir() string { return os.Getenv(envStandinDir) }

// wusa <msu> /quiet /norestart: the .msu's content says how it ends.
func standinWusa(args []string) int {
	if len(args) != 3 || args[1] != "/quiet" || args[2] != "/norestart" {
		fmt.Println("wusa stand-in: unexpected arguments", args)
		return 87
	}
	return answerCode(args[0], "exit", 0)
}

// MMASetup /c /t:<dir>: "unpacks" setup.exe (this executable) and its
// answers (mmasetup.answer in the stand-ins' directory: the executor runs
// the package from a directory of its own) into dir.
func standinExtractor(args []string) int {
	if len(args) != 2 || !strings.EqualFold(args[0], "/c") || !strings.HasPrefix(strings.ToLower(args[1]), "/t:") {
		fmt.Println("extractor stand-in: unexpected arguments", args)
		return 87
	}
	dir := strings.Trim(args[1][3:], `"`)
	self, _ := os.Executable()
	if err := copyFile(self, filepath.Join(dir, "setup.exe")); err != nil {
		fmt.Println("extractor stand-in:", err)
		return 2
	}
	answers := filepath.Join(standinDir(), "mmasetup.answer")
	copyFile(answers, filepath.Join(dir, "setup.answer"))
	return answerCode(answers, "extract-exit", 0)
}

// setup.exe <args>: installs nothing; answers as told.
func standinSetup(args []string) int {
	self, _ := os.Executable()
	return answerCode(filepath.Join(filepath.Dir(self), "setup.answer"), "setup-exit", 0)
}

func standinMsiexec(args []string) int {
	if len(args) != 4 || args[0] != "/x" || args[2] != "/qn" || args[3] != "/norestart" {
		fmt.Println("msiexec stand-in: unexpected arguments", args)
		return 1639 // ERROR_INVALID_COMMAND_LINE
	}
	return answerCode(filepath.Join(standinDir(), "msiexec.answer"), "exit", 0)
}

// netsh winhttp set proxy proxy-server=P | netsh winhttp reset proxy:
// writes WinHttpSettings in the 64-bit view as netsh does (unless told to
// lie: exit 0 and change nothing).
func standinNetsh(args []string) int {
	if _, lie := answer(filepath.Join(standinDir(), "netsh.answer"), "lie"); lie {
		return 0
	}
	var p winHTTPProxy
	switch {
	case len(args) == 3 && strings.Join(args, " ") == "winhttp reset proxy":
	case len(args) == 4 && strings.Join(args[:3], " ") == "winhttp set proxy" && strings.HasPrefix(args[3], "proxy-server="):
		p.Proxy = strings.TrimPrefix(args[3], "proxy-server=")
	default:
		fmt.Println("netsh stand-in: unexpected arguments", args)
		return 1
	}
	k, err := createKey(hkeyLocalMachine, winHTTPSettingsKey, syscall.KEY_SET_VALUE)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer k.Close()
	if err := k.setValue(winHTTPSettingsValue, regBinary, encodeWinHTTPSettings(p)); err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Println("Current WinHTTP proxy settings:")
	return 0
}

// mmaState is the stand-in MMA's configuration.
type mmaState struct {
	Installed  bool              `json:"installed"`
	Workspaces map[string]string `json:"workspaces"` // id -> key
	Clouds     map[string]string `json:"clouds"`     // id -> cloud type
	Proxy      string            `json:"proxy"`
}

func readMMAState() (mmaState, string) {
	path := filepath.Join(standinDir(), standinMMAState)
	var s mmaState
	if b, err := os.ReadFile(path); err == nil {
		json.Unmarshal(b, &s)
	}
	if s.Workspaces == nil {
		s.Workspaces = map[string]string{}
	}
	if s.Clouds == nil {
		s.Clouds = map[string]string{}
	}
	return s, path
}

// powershell ... -EncodedCommand <script>: reads which operation the
// script is from its first line and carries it out on the stand-in MMA,
// with the values the real script would read from the environment.
func standinPowerShell(args []string) int {
	if len(args) < 2 || args[len(args)-2] != "-EncodedCommand" {
		fmt.Println("powershell stand-in: no -EncodedCommand", args)
		return 1
	}
	b, err := base64.StdEncoding.DecodeString(args[len(args)-1])
	if err != nil || len(b)%2 != 0 {
		fmt.Println("powershell stand-in: bad -EncodedCommand")
		return 1
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	script := string(utf16.Decode(u))
	first, _, _ := strings.Cut(script, "\n")
	op := mmaOp(strings.TrimPrefix(first, "# purser: "))
	if mmaScript(op) != script {
		fmt.Println("powershell stand-in: not one of the executor's scripts")
		return 1
	}
	say := func(s string) { fmt.Println("PURSER-RESULT: " + s) }
	st, path := readMMAState()
	if !st.Installed {
		say("NO-MMA")
		return 0
	}
	id := os.Getenv(envWorkspaceID)
	switch op {
	case mmaAddWorkspace:
		if _, ok := st.Workspaces[id]; ok {
			say("ALREADY")
			return 0
		}
		st.Workspaces[id] = os.Getenv(envWorkspaceKey)
		st.Clouds[id] = os.Getenv(envCloudType)
		say("ADDED")
	case mmaRemoveWorkspace:
		if _, ok := st.Workspaces[id]; !ok {
			say("NOT-FOUND")
			return 0
		}
		delete(st.Workspaces, id)
		say("REMOVED")
	case mmaCheckWorkspace:
		if _, ok := st.Workspaces[id]; !ok {
			say(fmt.Sprintf("NOT-FOUND %d", len(st.Workspaces)))
			return 0
		}
		say("FOUND The Microsoft Monitoring Agent successfully connected")
	case mmaSetProxy:
		st.Proxy = os.Getenv(envProxy)
		say("PROXY-SET")
	}
	out, _ := json.Marshal(st)
	os.WriteFile(path, out, 0o600)
	return 0
}

func standinExitCode(args []string) int {
	if len(args) != 1 {
		return 87
	}
	n, err := strconv.ParseInt(args[0], 0, 64)
	if err != nil {
		return 87
	}
	return int(int32(n))
}

// sleeper [tree] [closepipes]: sleeps a minute; "tree" starts a child
// sleeper first, "closepipes" closes its output before sleeping.
func standinSleeper(args []string) int {
	for _, a := range args {
		switch a {
		case "tree":
			self, _ := os.Executable()
			child := exec.Command(self, "child")
			if err := child.Start(); err != nil {
				fmt.Println("sleeper: cannot start its child:", err)
				return 1
			}
			logStandin("sleeper.exe", fmt.Sprintf("child=%d", child.Process.Pid))
		case "closepipes":
			os.Stdout.Close()
			os.Stderr.Close()
		}
	}
	time.Sleep(time.Minute)
	return 0
}

// chatty <n>: writes n bytes of output, then "END".
func standinChatty(args []string) int {
	n, _ := strconv.Atoi(args[0])
	line := strings.Repeat("x", 99) + "\n"
	for ; n >= len(line); n -= len(line) {
		io.WriteString(os.Stdout, line)
	}
	io.WriteString(os.Stdout, "END")
	return 0
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
