package windows

import (
	"reflect"
	"testing"
)

func TestMergeEnv(t *testing.T) {
	base := []string{"=C:=C:\\dir", "Path=C:\\Windows", "PURSER_PROXY=old", "TEMP=C:\\Temp"}
	got := mergeEnv(base, []string{"PURSER_PROXY=", "PATH=D:\\x"})
	want := []string{"=C:=C:\\dir", "TEMP=C:\\Temp", "PURSER_PROXY=", "PATH=D:\\x"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
