package winsvc

import "testing"

func TestProtectedAsSet(t *testing.T) {
	for sddl, want := range map[string]bool{
		"O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)":                                  true,
		"O:BAD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)":                                true,
		"O:BAD:AI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)":                                 false, // inherits more
		"O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;WD)":            false,
		"O:S-1-5-21-0-0-0-1000D:(A;OICI;FA;;;SY)(A;OICI;FA;;;S-1-5-21-0-0-0-1000)": false, // Wine
		"O:SYD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)":                                  false,
		"": false,
	} {
		if got := protectedAsSet(sddl); got != want {
			t.Errorf("protectedAsSet(%q) = %v, want %v", sddl, got, want)
		}
	}
}
