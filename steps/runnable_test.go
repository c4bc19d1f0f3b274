package steps

import (
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/schema"
)

// TestEveryActionDeclaresItself: Run and Bound are part of Action (the
// compiler checks them); what an interface cannot say is which actions are
// critical, which have a preflight, and that only a human's answer goes
// without a bound of its own.
func TestEveryActionDeclaresItself(t *testing.T) {
	critical := map[string]bool{"ssh-stop": true, "swap": true, "ssh-start": true}
	unbounded := map[string]bool{"confirm": true}
	for _, k := range Kinds() {
		a := k.New()
		c, ok := a.(Critical)
		if got := ok && c.Critical(); got != critical[k.Name] {
			t.Errorf("%s: Critical() = %v, want %v", k.Name, got, critical[k.Name])
		}
		if w, ok := a.(*Wait); ok {
			w.For = "healthy" // an empty wait decodes to nothing
		}
		if b := a.Bound(); (b == 0) != unbounded[k.Name] {
			t.Errorf("%s: Bound() = %s; every action but confirm needs a bound of its own", k.Name, b)
		}
	}
	if _, ok := Action(&Swap{}).(Preflighter); !ok {
		t.Error("swap has no Preflight: the skipped-minor check would not run before members stop")
	}
}

// TestWaitBound: wait's own timeout, else the condition's default; a
// fixed wait ends by itself.
func TestWaitBound(t *testing.T) {
	for _, c := range []struct {
		w    Wait
		want time.Duration
	}{
		{Wait{For: "healthy"}, 2 * time.Minute},
		{Wait{For: "caught-up"}, 5 * time.Minute},
		{Wait{For: "cluster-version"}, 5 * time.Minute},
		{Wait{For: "healthy", Timeout: schema.Duration(90 * time.Second)}, 90 * time.Second},
		{Wait{Duration: schema.Duration(2 * time.Minute)}, 0},
	} {
		if got := c.w.Bound(); got != c.want {
			t.Errorf("%+v: Bound() = %s, want %s", c.w, got, c.want)
		}
	}
}
