// Package etcdprobe reads what an etcd cluster looks like, and performs the
// few cluster-side operations the actions need (move leadership, stream and
// verify a v3 snapshot).
//
// Two APIs are spoken:
//
//   - v3 (etcd 3.x): go.etcd.io/etcd/client/v3, one single-endpoint client per
//     member so that Status, Get and AlarmList really reach that member, plus
//     GET /version over HTTP(S) for the server, cluster and storage versions.
//   - v2 (etcd 2.x): the HTTP API only: /version, /health, /v2/members,
//     /v2/stats/self, /v2/auth/enable and the X-Raft-Index header of
//     GET /v2/keys/.
//
// A probe never fails because one member is down: each member is probed
// concurrently under its own deadline and an unreachable member is reported
// in its Member (Reachable false, Error set). Cluster returns a Go error only
// when no member answered at all.
//
// Clients are opened per call and closed before the call returns, so a
// Prober holds no connection between calls: a member that restarts is seen
// at once, without waiting out a gRPC reconnect backoff, and nothing leaks.
//
// Health follows etcdctl endpoint health: a linearizable Get of "health"
// (permission denied and user-empty count as answers; a learner gets a
// serializable read) and an empty AlarmList. With auth on and no
// credentials, etcd 3.5 (recent patches) and 3.6+ refuse Status and
// AlarmList; the probe then reads /metrics and /health instead, which
// need no auth (see metrics.go). Options.Username/Password give the full
// picture, and are needed for MoveLeader and Snapshot under auth.
//
// What v2 cannot tell: the applied index (reported equal to the commit
// index), the backend size (0), alarms (none), and, on 2.0, the cluster
// version ("2.0.0" is derived when every reachable member runs 2.0.x).
//
// The result types are plain data with JSON tags; `etcdplay status -o json`
// prints them as they are, and the runner converts them into the guard facts
// (schema.Facts). This package imports neither runner nor steps nor schema.
package etcdprobe
