package steps

import "github.com/etcdplay/etcdplay/schema"

// A minor playbook is done with a member once it reports a server on the
// `to` minor. A patch playbook (from == to) starts with every member on
// that minor already, so only the exact release its swap installs counts:
// the inventory's newest release on the minor (Inventory.ReleaseFor).

// PatchTarget is the exact release a patch playbook moves every member
// to; zero for a minor playbook or when the inventory lists none.
func PatchTarget(pb *schema.Playbook, inv *schema.Inventory) schema.Version {
	if pb == nil || !pb.IsPatch() || inv == nil {
		return schema.Version{}
	}
	if r := inv.ReleaseFor(pb.To); r != nil {
		return r.Version
	}
	return schema.Version{}
}

// OnTarget reports whether a member reporting server is where pb takes
// it: on the `to` minor, and for a patch playbook on its exact release.
func OnTarget(pb *schema.Playbook, inv *schema.Inventory, server string) bool {
	v, ok := reportedVersion(server)
	if !ok || pb == nil || v.MinorLine() != pb.To {
		return false
	}
	if pb.IsPatch() {
		t := PatchTarget(pb, inv)
		return !t.IsZero() && v == t
	}
	return true
}

// OnSource reports whether a member reporting server is where pb starts:
// on the `from` minor, and for a patch playbook below its release (a
// member above it would be downgraded, which is not this playbook's job).
func OnSource(pb *schema.Playbook, inv *schema.Inventory, server string) bool {
	v, ok := reportedVersion(server)
	if !ok || pb == nil || v.MinorLine() != pb.From {
		return false
	}
	if !pb.IsPatch() {
		return true
	}
	t := PatchTarget(pb, inv)
	return t.IsZero() || v.Less(t)
}
