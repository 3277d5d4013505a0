package winsvc

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

// ParseConfig reads a configuration file's content: one flag a line, the
// same flags as the agent's command line (--server=host:port); empty lines
// and lines starting with # are ignored. name is the file, for errors.
func ParseConfig(data []byte, name string) ([]string, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // Notepad's UTF-8 mark
	var args []string
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !strings.HasPrefix(line, "-") || flagName(line) == "" {
			return nil, fmt.Errorf("%s:%d: %q is not a flag (lines look like --server=host:port)", name, i+1, line)
		}
		args = append(args, line)
	}
	return args, nil
}

// FormatConfig is the file content for args, with a header saying what the
// file is.
func FormatConfig(args []string) []byte {
	var b bytes.Buffer
	b.WriteString("# purser-agent service settings, written by \"purser-agent install\".\r\n")
	b.WriteString("# One flag a line, as on the command line; restart the service (sc stop/start PurserAgent) after an edit.\r\n")
	for _, a := range args {
		b.WriteString(a)
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// flagName is the name in -name, --name or --name=value.
func flagName(arg string) string {
	name := strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-")
	if i := strings.IndexByte(name, '='); i >= 0 {
		name = name[:i]
	}
	return name
}

// ConfigValue is the value of the last --name=value in args (the one the
// flag package keeps), and whether there is one. A bare --name is "true".
func ConfigValue(args []string, name string) (string, bool) {
	value, found := "", false
	for _, a := range args {
		if flagName(a) != name {
			continue
		}
		found = true
		value = "true"
		if i := strings.IndexByte(a, '='); i >= 0 {
			value = a[i+1:]
		}
	}
	return value, found
}

// Setting is one flag the installer writes.
type Setting struct{ Name, Value string }

// MergeConfig applies set and unset (flag names) to args: a set flag
// replaces the first line of that name and drops the others, or is appended;
// flags named in neither are kept as they are, so an administrator's own
// lines survive a reinstall.
func MergeConfig(args []string, set []Setting, unset []string) []string {
	drop := map[string]bool{}
	for _, n := range unset {
		drop[n] = true
	}
	value := map[string]string{}
	for _, s := range set {
		value[s.Name] = s.Value
	}
	done := map[string]bool{}
	var out []string
	for _, a := range args {
		n := flagName(a)
		if drop[n] || done[n] {
			continue
		}
		if v, ok := value[n]; ok {
			out = append(out, "--"+n+"="+v)
			done[n] = true
			continue
		}
		out = append(out, a)
	}
	for _, s := range set {
		if !done[s.Name] {
			out = append(out, "--"+s.Name+"="+s.Value)
			done[s.Name] = true
		}
	}
	return out
}

// ReadConfigFile reads the service's configuration file.
func ReadConfigFile(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, fmt.Errorf("%s is missing: install the service with \"purser-agent install\"", path)
	}
	if err != nil {
		return nil, err
	}
	return ParseConfig(data, path)
}
