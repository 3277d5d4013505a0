package agent

import (
	"fmt"
	"strings"
	"time"

	pb "purserpb/v1"
)

// ExpandRefs replaces each ${name} in text by params[name]. A reference
// without a value is an error that names the parameter (never its value).
func ExpandRefs(text string, params map[string]string) (string, error) {
	var out strings.Builder
	rest := text
	for {
		start := strings.Index(rest, "${")
		if start < 0 {
			break
		}
		end := strings.IndexByte(rest[start:], '}')
		if end < 0 {
			return "", fmt.Errorf("unterminated ${ reference")
		}
		end += start
		ref := rest[start+2 : end]
		v, ok := params[ref]
		if !ok {
			return "", fmt.Errorf("parameter %q has no value", ref)
		}
		out.WriteString(rest[:start])
		out.WriteString(v)
		rest = rest[end+1:]
	}
	out.WriteString(rest)
	return out.String(), nil
}

// StepTimeout is the step's timeout (600 s unless the plan says).
func StepTimeout(step *pb.Step) time.Duration {
	if s := step.GetTimeoutSeconds(); s > 0 {
		return time.Duration(s) * time.Second
	}
	return 600 * time.Second
}

// ShortEnum is an enum value's name without its type prefix:
// ShortEnum("SERVICE_STATUS_RUNNING", "SERVICE_STATUS_") is "RUNNING".
func ShortEnum(name, prefix string) string { return strings.TrimPrefix(name, prefix) }
