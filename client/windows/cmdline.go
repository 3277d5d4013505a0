package windows

import (
	"regexp"
	"strings"
)

// A Windows program receives one command-line string and splits it itself.
// Most use the Microsoft C runtime's rules (those of CommandLineToArgvW):
// quoteArg writes for them. Windows Installer reads PROPERTY="value" and
// IExpress packages read /T:dir: those have their own writers below.

// quoteArg quotes one argument so that the C runtime's splitting gives it
// back unchanged: backslashes are literal except before a quote, where
// they escape each other and the quote.
func quoteArg(s string) string {
	if s == "" {
		return `""`
	}
	if !strings.ContainsAny(s, " \t\n\v\"") {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	slashes := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			slashes++
			b.WriteByte(c)
			continue
		case '"':
			// The backslashes already written become literal by doubling;
			// one more escapes the quote.
			b.WriteString(strings.Repeat(`\`, slashes+1))
		}
		slashes = 0
		b.WriteByte(c)
	}
	// Trailing backslashes are followed by the closing quote: double them.
	b.WriteString(strings.Repeat(`\`, slashes))
	b.WriteByte('"')
	return b.String()
}

// quoteProgram quotes the program name, which the C runtime reads without
// backslash escapes (a path holds no quote).
func quoteProgram(path string) string {
	if strings.ContainsAny(path, " \t") {
		return `"` + path + `"`
	}
	return path
}

// commandLine is the command line that runs program with args.
func commandLine(program string, args []string) string {
	parts := make([]string, 0, len(args)+1)
	parts = append(parts, quoteProgram(program))
	for _, a := range args {
		parts = append(parts, quoteArg(a))
	}
	return strings.Join(parts, " ")
}

var msiProperty = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_.]*)=(.*)$`)

// msiArg writes an argument for Windows Installer and the setup programs
// that hand theirs to it: a PROPERTY=value whose value needs quoting is
// written PROPERTY="value" with inner quotes doubled, as msiexec expects
// ("PROPERTY=value" in quotes is not a property assignment to it).
func msiArg(s string) string {
	m := msiProperty.FindStringSubmatch(s)
	if m == nil {
		return quoteArg(s)
	}
	value := m[2]
	if value != "" && !strings.ContainsAny(value, " \t\"") {
		return s
	}
	return m[1] + `="` + strings.ReplaceAll(value, `"`, `""`) + `"`
}

// msiCommandLine is the command line that runs an installer with
// Windows Installer style args.
func msiCommandLine(program string, args []string) string {
	parts := make([]string, 0, len(args)+1)
	parts = append(parts, quoteProgram(program))
	for _, a := range args {
		parts = append(parts, msiArg(a))
	}
	return strings.Join(parts, " ")
}

// extractArgs are the IExpress options that unpack a package into dir
// without running it. IExpress reads /T: up to the next space, so a dir
// with spaces is quoted after the colon.
func extractArgs(dir string) string {
	if strings.ContainsAny(dir, " \t") {
		return `/c /t:"` + dir + `"`
	}
	return "/c /t:" + dir
}
