package windows

import (
	"fmt"
	"strings"
)

// nativePath is the path a 32-bit process on 64-bit Windows must open to
// reach path as 64-bit programs see it: WOW64 redirects %windir%\System32
// to SysWOW64, and %windir%\Sysnative is the way past it. Other paths
// (Program Files included, when written out) are not redirected.
func nativePath(path, windir string, wow64 bool) string {
	if !wow64 || windir == "" {
		return path
	}
	sys32 := strings.TrimRight(windir, `\`) + `\System32`
	if len(path) < len(sys32) || !strings.EqualFold(path[:len(sys32)], sys32) {
		return path
	}
	rest := path[len(sys32):]
	if rest != "" && rest[0] != '\\' && rest[0] != '/' {
		return path // System32foo is another name
	}
	return strings.TrimRight(windir, `\`) + `\Sysnative` + rest
}

// searchPath finds program, a bare name ("netsh", "netsh.exe"), as cmd
// would: in the directories of pathList (PATH: ';'-separated, possibly
// quoted), trying program as it is when it has an extension, then with
// each of pathExt's (PATHEXT; .com .exe .bat .cmd when empty). Unlike cmd
// and exec.LookPath it never looks in the current directory or a relative
// one, and each directory is first mapped by native: a 32-bit agent must
// find System32's programs, not the SysWOW64 ones WOW64 would give it.
// isFile says whether a file (not a directory) is at a path.
func searchPath(program, pathList, pathExt string, native func(dir string) string, isFile func(path string) bool) (string, error) {
	if strings.ContainsAny(program, `\/:`) {
		return "", fmt.Errorf("%s is neither a program's name nor an absolute path", program)
	}
	var exts []string
	for _, e := range strings.Split(strings.ToLower(pathExt), ";") {
		if e = strings.TrimSpace(e); e != "" {
			if e[0] != '.' {
				e = "." + e
			}
			exts = append(exts, e)
		}
	}
	if len(exts) == 0 {
		exts = []string{".com", ".exe", ".bat", ".cmd"}
	}
	hasExt := strings.LastIndexByte(program, '.') > 0
	for _, dir := range splitPathList(pathList) {
		if !isAbsDir(dir) {
			continue
		}
		base := strings.TrimRight(native(dir), `\/`) + `\` + program
		if hasExt && isFile(base) {
			return base, nil
		}
		for _, e := range exts {
			if isFile(base + e) {
				return base + e, nil
			}
		}
	}
	return "", fmt.Errorf("%s is in no directory of PATH (with the extensions of PATHEXT)", program)
}

// splitPathList splits a Windows PATH: ';' separates, except between
// double quotes, which are removed.
func splitPathList(list string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for _, r := range list {
		switch {
		case r == '"':
			quoted = !quoted
		case r == ';' && !quoted:
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteRune(r)
		}
	}
	return append(out, strings.TrimSpace(cur.String()))
}

// isAbsDir: a drive's path (C:\...) or a UNC path (\\server\share...).
func isAbsDir(p string) bool {
	if strings.HasPrefix(p, `\\`) {
		return true
	}
	return len(p) >= 3 && p[1] == ':' && (p[2] == '\\' || p[2] == '/') && (p[0]|0x20 >= 'a' && p[0]|0x20 <= 'z')
}
