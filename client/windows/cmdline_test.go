package windows

import (
	"math/rand"
	"reflect"
	"strings"
	"testing"
)

// splitArgs splits a command line's arguments (after the program) by the
// C runtime's rules: the reference quoteArg must satisfy.
func splitArgs(s string) []string {
	var args []string
	var cur strings.Builder
	inArg, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			n := 0
			for i < len(s) && s[i] == '\\' {
				n++
				i++
			}
			if i < len(s) && s[i] == '"' {
				cur.WriteString(strings.Repeat(`\`, n/2))
				if n%2 == 1 {
					cur.WriteByte('"')
				} else {
					quoted = !quoted
				}
			} else {
				cur.WriteString(strings.Repeat(`\`, n))
				i--
			}
			inArg = true
		case c == '"':
			if quoted && i+1 < len(s) && s[i+1] == '"' { // "" inside quotes: a literal quote
				cur.WriteByte('"')
				i++
			} else {
				quoted = !quoted
			}
			inArg = true
		case (c == ' ' || c == '\t') && !quoted:
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteByte(c)
			inArg = true
		}
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args
}

func TestQuoteArgRoundTrip(t *testing.T) {
	cases := []string{"", "plain", "two words", `C:\Program Files\x.msu`, `trailing\`, `trailing space\ `,
		`a"b`, `a\"b`, `a\\"b`, `"`, `\\server\share\`, "tab\there", `OPINSIGHTS_WORKSPACE_KEY=ab+/c==`}
	r := rand.New(rand.NewSource(1))
	alphabet := []byte{'a', ' ', '\\', '"', '\t', 'z'}
	for i := 0; i < 2000; i++ {
		b := make([]byte, r.Intn(12))
		for j := range b {
			b[j] = alphabet[r.Intn(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	for _, c := range cases {
		line := commandLine(`C:\Windows\System32\prog.exe`, []string{c, "next"})
		got := splitArgs(line[len(`C:\Windows\System32\prog.exe`)+1:])
		if !reflect.DeepEqual(got, []string{c, "next"}) {
			t.Fatalf("quoteArg(%q) = %q, splits back to %q", c, quoteArg(c), got)
		}
	}
}

func TestQuoteArgLeavesPlainArgs(t *testing.T) {
	for _, c := range []string{"/quiet", `C:\Windows\x.msu`, "NOAPM=1", `a\b\`} {
		if got := quoteArg(c); got != c {
			t.Errorf("quoteArg(%q) = %q, want it unchanged", c, got)
		}
	}
}

func TestCommandLineQuotesProgramWithSpaces(t *testing.T) {
	got := commandLine(`C:\Program Files\Tool\t.exe`, []string{"/x", "a b"})
	if want := `"C:\Program Files\Tool\t.exe" /x "a b"`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestMSIArg(t *testing.T) {
	cases := map[string]string{
		"/qn":                                 "/qn",
		"NOAPM=1":                             "NOAPM=1",
		"OPINSIGHTS_WORKSPACE_KEY=ab+/c==":    "OPINSIGHTS_WORKSPACE_KEY=ab+/c==",
		"INSTALLDIR=C:\\Program Files\\Agent": `INSTALLDIR="C:\Program Files\Agent"`,
		`PROP=say "hi"`:                       `PROP="say ""hi"""`,
		"EMPTY=":                              `EMPTY=""`,
		"not a property":                      `"not a property"`,
	}
	for in, want := range cases {
		if got := msiArg(in); got != want {
			t.Errorf("msiArg(%q) = %s, want %s", in, got, want)
		}
	}
	if got := msiCommandLine(`C:\x\setup.exe`, []string{"/qn", "A=b c"}); got != `C:\x\setup.exe /qn A="b c"` {
		t.Errorf("msiCommandLine = %s", got)
	}
}

func TestExtractArgs(t *testing.T) {
	if got := extractArgs(`C:\Windows\Temp\purser\pkg-1`); got != `/c /t:C:\Windows\Temp\purser\pkg-1` {
		t.Errorf("got %s", got)
	}
	if got := extractArgs(`C:\Dir With Space\pkg`); got != `/c /t:"C:\Dir With Space\pkg"` {
		t.Errorf("got %s", got)
	}
}
