package agentlog

import "testing"

// A secret that contains another is masked whole, whatever the order they
// became known in.
func TestNestedSecretsAreMaskedWhole(t *testing.T) {
	RegisterSecret("abcdef")
	RegisterSecret("xx-abcdef-yy")
	if got := Redact("key=xx-abcdef-yy and abcdef"); got != "key=[REDACTED] and [REDACTED]" {
		t.Errorf("redacted: %q", got)
	}
	if got := Redact("short"); got != "short" {
		t.Errorf("a short value is not a secret: %q", got)
	}
}
