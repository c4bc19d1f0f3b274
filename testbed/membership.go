package testbed

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// WaitMemberCount waits until every running member's own member list
// (serializable: what that member has applied) counts n members. A member
// joining with --initial-cluster-state=existing checks its initial
// cluster against a peer's list and exits with "member count is unequal"
// when that peer has not applied the member add yet; so a test starts the
// new member only once this returns.
func (c *Cluster) WaitMemberCount(ctx context.Context, n int) error {
	var last string
	for {
		pending := 0
		for i, h := range c.Hosts {
			if c.MemberPID(i) == 0 {
				continue
			}
			cli, err := c.newV3Client([]string{h.ClientURL})
			if err != nil {
				return err
			}
			rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			l, err := cli.MemberList(rctx, clientv3.WithSerializable())
			cancel()
			cli.Close()
			switch {
			case err != nil:
				pending++
				last = fmt.Sprintf("%s: %v", h.Name, err)
			case len(l.Members) != n:
				pending++
				last = fmt.Sprintf("%s lists %d members", h.Name, len(l.Members))
			}
		}
		if pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("testbed: %s: not every member lists %d members: %s", c.Name, n, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
