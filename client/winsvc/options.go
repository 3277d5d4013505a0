package winsvc

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// InstallOptions are the flags of "purser-agent install". An empty value
// keeps what agent.conf already says: a reinstall, or an upgrade run by
// msiexec without properties, keeps the agent's settings.
type InstallOptions struct {
	Server, CA, TokenFile, Proxy, LogLevel string
	// AllowRunCommand is "", "true" or "false".
	AllowRunCommand string
}

// NoProxy as --proxy removes a proxy set by an earlier install.
const NoProxy = "none"

// optBool is a boolean flag that may also be left unset, or given empty
// (msiexec passes --allow_run_command=[PROPERTY] whether set or not).
type optBool struct{ v *string }

func (b optBool) String() string {
	if b.v == nil {
		return ""
	}
	return *b.v
}
func (b optBool) IsBoolFlag() bool { return true }
func (b optBool) Set(s string) error {
	if s == "" {
		*b.v = ""
		return nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("must be true or false (or 1 or 0)")
	}
	*b.v = strconv.FormatBool(v)
	return nil
}

// ParseInstallArgs parses install's flags (after the word install).
func ParseInstallArgs(args []string, out io.Writer) (*InstallOptions, error) {
	o := &InstallOptions{}
	fs := flag.NewFlagSet("purser-agent install", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.Server, "server", "", "control server host:port (required the first time)")
	fs.StringVar(&o.CA, "ca", "", "the server's CA certificate (ca.pem), copied into the state directory")
	fs.StringVar(&o.TokenFile, "token_file", "", "file holding the enrollment token, copied into the state directory (the agent deletes the copy once enrolled)")
	fs.StringVar(&o.Proxy, "proxy", "", "HTTP proxy host:port for the agent's connection to the server; "+NoProxy+" removes it")
	fs.Var(optBool{&o.AllowRunCommand}, "allow_run_command", "let plan steps run arbitrary commands as LocalSystem")
	fs.StringVar(&o.LogLevel, "log_level", "", "debug, info, warning or error")
	fs.Usage = func() {
		io.WriteString(out, "usage: purser-agent install --server=HOST:PORT --ca=ca.pem --token_file=FILE "+
			"[--proxy=HOST:PORT] [--allow_run_command] [--log_level=info]\n"+
			"Values left out keep the ones of the installed agent.conf.\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("install: unexpected argument %q (flags start with --)", fs.Arg(0))
	}
	return o, nil
}

// ParseUninstallArgs parses uninstall's flags: whether to purge the state
// directory.
func ParseUninstallArgs(args []string, out io.Writer) (purge bool, err error) {
	fs := flag.NewFlagSet("purser-agent uninstall", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.BoolVar(&purge, "purge", false, "also delete the state directory: the agent's identity, journal and logs")
	if err := fs.Parse(args); err != nil {
		return false, err
	}
	if fs.NArg() > 0 {
		return false, fmt.Errorf("uninstall: unexpected argument %q (flags start with --)", fs.Arg(0))
	}
	return purge, nil
}

// Settings are the lines install writes into agent.conf: the values given,
// with the CA and token pointing at their copies in the state directory
// when they were copied.
func (o *InstallOptions) Settings(l Layout, caCopied, tokenCopied bool) (set []Setting, unset []string) {
	add := func(name, value string) {
		if value != "" {
			set = append(set, Setting{name, value})
		}
	}
	add("server", o.Server)
	if caCopied {
		add("ca", l.EnrollCA())
	}
	if tokenCopied {
		add("token_file", l.EnrollToken())
	}
	if o.Proxy == NoProxy {
		unset = append(unset, "proxy")
	} else {
		add("proxy", o.Proxy)
	}
	add("allow_run_command", o.AllowRunCommand)
	add("log_level", o.LogLevel)
	return set, unset
}

// CheckServiceConfig says what the service would miss with args as its
// agent.conf: a server, and, before enrollment, the CA and a token file that
// exists.
func CheckServiceConfig(args []string, enrolled bool, exists func(path string) bool) error {
	if v, _ := ConfigValue(args, "server"); v == "" {
		return errors.New("no control server: give --server=HOST:PORT (msiexec: SERVER=HOST:PORT)")
	}
	if enrolled {
		return nil
	}
	if v, _ := ConfigValue(args, "ca"); v == "" || !exists(v) {
		return errors.New("not enrolled yet and no CA certificate: give --ca=ca.pem (msiexec: CAFILE=path)")
	}
	if v, _ := ConfigValue(args, "token_file"); v == "" || !exists(v) {
		return errors.New("not enrolled yet and no enrollment token: give --token_file=FILE (msiexec: TOKENFILE=path)")
	}
	return nil
}

// CheckCA accepts a PEM file whose certificates all parse, as the agent's
// TLS configuration needs them to; it must hold one at least.
func CheckCA(data []byte, name string) error {
	n := 0
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("%s: certificate %d does not parse: %v", name, n+1, err)
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("%s holds no PEM certificate (expected the server's ca.pem)", name)
	}
	return nil
}

// CleanToken is a token file's content as the agent reads it best: the
// token alone on its line, without the byte order mark Notepad may add. The
// token itself never appears in an error.
func CleanToken(data []byte, name string) ([]byte, error) {
	token := strings.TrimSpace(string(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))))
	switch {
	case token == "":
		return nil, fmt.Errorf("%s is empty: it must hold the enrollment token", name)
	case strings.ContainsAny(token, "\r\n"):
		return nil, fmt.Errorf("%s has more than one line: it must hold only the enrollment token", name)
	}
	return []byte(token + "\n"), nil
}
