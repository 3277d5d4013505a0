package windows

import "strings"

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
