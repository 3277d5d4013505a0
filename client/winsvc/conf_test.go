package winsvc

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseConfigReadsFlagsAndSkipsCommentsAndBOM(t *testing.T) {
	data := "\xef\xbb\xbf# header\r\n\r\n--server=10.0.0.5:7443\r\n  --ca=C:\\ProgramData\\Purser\\enroll-ca.pem  \r\n--allow_run_command\n"
	got, err := ParseConfig([]byte(data), "agent.conf")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"--server=10.0.0.5:7443", `--ca=C:\ProgramData\Purser\enroll-ca.pem`, "--allow_run_command"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestParseConfigNamesFileAndLineOfABadLine(t *testing.T) {
	_, err := ParseConfig([]byte("--server=a:1\nserver=b:2\n"), `C:\ProgramData\Purser\agent.conf`)
	if err == nil || !strings.Contains(err.Error(), `agent.conf:2: "server=b:2" is not a flag`) {
		t.Errorf("error = %v", err)
	}
}

func TestFormatConfigRoundTrips(t *testing.T) {
	args := []string{"--server=h:1", `--token_file=C:\x y\enroll-token`, "--proxy=p:3128"}
	got, err := ParseConfig(FormatConfig(args), "agent.conf")
	if err != nil || !reflect.DeepEqual(got, args) {
		t.Errorf("round trip = %q, %v", got, err)
	}
}

func TestConfigValueTakesTheLastAndBareBooleans(t *testing.T) {
	args := []string{"--server=a:1", "-server=b:2", "--allow_run_command"}
	if v, ok := ConfigValue(args, "server"); !ok || v != "b:2" {
		t.Errorf("server = %q, %v", v, ok)
	}
	if v, ok := ConfigValue(args, "allow_run_command"); !ok || v != "true" {
		t.Errorf("allow_run_command = %q, %v", v, ok)
	}
	if _, ok := ConfigValue(args, "proxy"); ok {
		t.Error("proxy found")
	}
}

func TestMergeConfigReplacesAppendsUnsetsAndKeepsOthers(t *testing.T) {
	existing := []string{"--server=old:1", "--wait_seconds=30", "--proxy=p:1", "--server=older:2"}
	got := MergeConfig(existing, []Setting{{"server", "new:1"}, {"log_level", "debug"}}, []string{"proxy"})
	want := []string{"--server=new:1", "--wait_seconds=30", "--log_level=debug"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestReadConfigFileSaysHowToInstallWhenMissing(t *testing.T) {
	_, err := ReadConfigFile(filepath.Join(t.TempDir(), "agent.conf"))
	if err == nil || !strings.Contains(err.Error(), "purser-agent install") {
		t.Errorf("error = %v", err)
	}
	path := filepath.Join(t.TempDir(), "agent.conf")
	os.WriteFile(path, []byte("--server=h:1\n"), 0600)
	if args, err := ReadConfigFile(path); err != nil || len(args) != 1 {
		t.Errorf("got %q, %v", args, err)
	}
}
