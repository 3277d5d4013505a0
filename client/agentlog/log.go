// Package agentlog is the agent's log: levelled lines on stderr (or a file),
// every line with known secrets masked and control characters escaped.
package agentlog

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// Level orders messages; lines below the logger's level are dropped.
type Level int

const (
	Debug Level = iota
	Info
	Warning
	Error
)

var levelNames = [...]string{"D", "I", "W", "E"}

var (
	mu      sync.Mutex
	secrets []string
	out     io.Writer = os.Stderr
	min               = Info
	// extra receives warnings and errors too (the Windows event log).
	extra func(level Level, line string)
)

// RegisterSecret masks value in every later log line and Redact call.
// Values shorter than 6 bytes are not masked: that would mangle ordinary text.
func RegisterSecret(value string) {
	if len(value) < 6 {
		return
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range secrets {
		if s == value {
			return
		}
	}
	secrets = append(secrets, value)
	// Longest first: a secret that contains another is masked whole.
	sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
}

// Redact returns text with every registered secret replaced by [REDACTED].
func Redact(text string) string {
	mu.Lock()
	list := secrets
	mu.Unlock()
	for _, s := range list {
		text = strings.ReplaceAll(text, s, "[REDACTED]")
	}
	return text
}

// EscapeControl makes control characters visible, so a message cannot forge
// log lines.
func EscapeControl(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// SetOutput sends log lines to w (stderr by default).
func SetOutput(w io.Writer) {
	mu.Lock()
	out = w
	mu.Unlock()
}

// SetLevel drops lines below level.
func SetLevel(level Level) {
	mu.Lock()
	min = level
	mu.Unlock()
}

// SetExtra also hands warnings and errors to fn (after redaction).
func SetExtra(fn func(level Level, line string)) {
	mu.Lock()
	extra = fn
	mu.Unlock()
}

// Logger writes lines with a prefix (the agent's machine name).
type Logger struct{ Prefix string }

func (l Logger) write(level Level, format string, args ...interface{}) {
	mu.Lock()
	w, lvl, x := out, min, extra
	mu.Unlock()
	if level < lvl {
		return
	}
	msg := EscapeControl(Redact(fmt.Sprintf(format, args...)))
	line := fmt.Sprintf("%s %s %s%s\n", levelNames[level],
		time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), l.Prefix, msg)
	io.WriteString(w, line)
	if x != nil && level >= Warning {
		x(level, l.Prefix+msg)
	}
}

func (l Logger) Debugf(format string, args ...interface{})   { l.write(Debug, format, args...) }
func (l Logger) Infof(format string, args ...interface{})    { l.write(Info, format, args...) }
func (l Logger) Warningf(format string, args ...interface{}) { l.write(Warning, format, args...) }
func (l Logger) Errorf(format string, args ...interface{})   { l.write(Error, format, args...) }
