package ssh

import (
	"sync"
	"testing"
)

func TestPoolOneClientPerHost(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	p := NewPool()
	defer p.Close()
	var wg sync.WaitGroup
	got := make([]*Client, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := p.Get(ctx(t), f.cfg)
			if err != nil {
				t.Error(err)
			}
			got[i] = c
		}()
	}
	wg.Wait()
	for _, c := range got {
		if c != got[0] {
			t.Fatal("two clients for one host")
		}
	}
	if n := f.srv.AuthAttempts.Load(); n != 1 {
		t.Fatalf("%d logins for one host", n)
	}
	if _, err := got[0].Run(ctx(t), Command{Argv: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if _, err := got[0].Run(ctx(t), Command{Argv: []string{"true"}}); err == nil {
		t.Fatal("a closed pool's client still runs commands")
	}
}
