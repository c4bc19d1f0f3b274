package etcdprobe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// client opens a clientv3 client on exactly one endpoint, so every RPC
// reaches that member. No WithBlock: New returns at once even when the
// member is down, and the first RPC fails under its context deadline.
// The caller must Close it.
func (p *Prober) client(ep Endpoint) (*clientv3.Client, error) {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{ep.URL},
		DialTimeout: p.opts.DialTimeout,
		TLS:         p.opts.TLS,
		Username:    p.opts.Username,
		Password:    p.opts.Password,
		Logger:      zap.NewNop(), // the library's warnings are ours to report
		DialOptions: staticWindows,
	})
	if err != nil {
		return nil, fmt.Errorf("%s (%s): client: %w", ep.Name, ep.URL, err)
	}
	return cli, nil
}

// staticWindows turns off gRPC's flow-control window estimation, which
// pings the server as a large stream (a snapshot) arrives. etcd 3.0-3.3's
// gRPC server counts those pings against its keep-alive policy and ends
// the connection with GOAWAY "too_many_pings" (ENHANCE_YOUR_CALM): a
// snapshot from a 3.1 member failed that way after 192 KiB on the bed.
// Fixed windows of 4 MiB keep a LAN or a bastion link busy all the same.
var staticWindows = []grpc.DialOption{
	grpc.WithInitialWindowSize(4 << 20),
	grpc.WithInitialConnWindowSize(4 << 20),
}

// probeV3 asks one member, in this order: /version (HTTP; a refused
// connection ends the probe quickly), Status, Get "health", AlarmList,
// MemberList, AuthStatus.
func (p *Prober) probeV3(ctx context.Context, ep Endpoint) memberProbe {
	var pr memberProbe
	m := &pr.m
	v, verr := p.versions(ctx, ep)
	if verr != nil && isConnError(verr) {
		m.Error = p.memberErr(ep, "GET /version", verr)
		return pr
	}
	m.Server, m.ClusterVersion, m.Storage = v.Server, v.Cluster, v.Storage

	cli, err := p.client(ep)
	if err != nil {
		m.Error = err.Error()
		return pr
	}
	defer cli.Close()

	st, err := cli.Status(ctx, ep.URL)
	if err != nil {
		if isAuthErr(err) {
			p.probeV3NoAuth(ctx, ep, cli, &pr)
			return pr
		}
		m.Error = p.memberErr(ep, "status", err)
		return pr
	}
	m.Reachable = true
	if verr != nil {
		m.Error = p.memberErr(ep, "GET /version", verr)
	}
	if m.Server == "" {
		m.Server = st.Version
	}
	if m.Storage == "" {
		m.Storage = st.StorageVersion
	}
	m.ID = ID(st.Header.GetMemberId())
	pr.clusterID = ID(st.Header.GetClusterId())
	m.LeaderID = ID(st.Leader)
	m.IsLeader = st.Leader != 0 && st.Leader == st.Header.GetMemberId()
	m.IsLearner = st.IsLearner
	if d := st.DowngradeInfo; d != nil {
		m.Downgrade = DowngradeInfo{Enabled: d.Enabled, Target: d.TargetVersion}
	}
	m.DBSize, m.DBSizeInUse = st.DbSize, st.DbSizeInUse
	m.RaftIndex, m.RaftAppliedIndex, m.RaftTerm = st.RaftIndex, st.RaftAppliedIndex, st.RaftTerm
	if st.RaftAppliedIndex == 0 && reportsAppliedAsRaftIndex(st.Version) {
		m.RaftAppliedIndex = st.RaftIndex
	}
	m.Revision = st.Header.GetRevision()

	// Health as etcdctl endpoint health: a linearizable Get of "health"
	// (through raft, so it needs a leader and a quorum). Permission denied
	// and an empty user name are answers too: auth is on, and the member
	// served the request as far as auth let it.
	var opts []clientv3.OpOption
	if st.IsLearner {
		// A learner refuses linearizable reads ("rpc not supported for
		// learner"); a serializable one shows it serves from its own store.
		opts = append(opts, clientv3.WithSerializable())
	}
	// Half the member's budget at most: without quorum the Get waits out
	// its deadline, and MemberList and AlarmList still deserve a try.
	gctx, gcancel := context.WithTimeout(ctx, p.opts.RequestTimeout/2)
	_, gerr := cli.Get(gctx, "health", opts...)
	gcancel()
	authErr := isAuthErr(gerr)
	getOK := gerr == nil || authErr
	if authErr {
		pr.auth = true
	}
	stalled := errors.Is(gerr, context.DeadlineExceeded) && ctx.Err() == nil
	if gerr == nil {
		pr.v3Keys = p.countV3Keys(ctx, cli)
	}
	switch {
	case stalled:
		m.HealthError = fmt.Sprintf("get health: no answer within %v (no leader or no quorum?)", p.opts.RequestTimeout/2)
	case !getOK:
		m.HealthError = fmt.Sprintf("get health: %v", gerr)
	}

	// Alarms are cluster-wide; a learner refuses AlarmList (it goes through
	// raft), so a learner's health is its read alone and the voters report
	// the alarms.
	var ar *clientv3.AlarmResponse
	var aerr error
	if !st.IsLearner && !stalled {
		ar, aerr = cli.AlarmList(ctx)
	}
	switch {
	case st.IsLearner || stalled: // a stalled raft would stall AlarmList too
	case isAuthErr(aerr):
		// AlarmList is for admins once auth is on; it can also be the first
		// call to meet auth switched on while this probe ran. /health says
		// the same without credentials.
		pr.auth = true
		if m.HealthError == "" && !p.healthOverHTTP(ctx, ep, &pr) {
			getOK = false
		}
	case aerr != nil:
		if m.HealthError == "" {
			m.HealthError = fmt.Sprintf("alarm list: %v", aerr)
		}
		getOK = false
	case len(ar.Alarms) > 0:
		var types []string
		for _, a := range ar.Alarms {
			pr.alarms = append(pr.alarms, Alarm{MemberID: ID(a.MemberID), Type: a.Alarm.String()})
			types = append(types, fmt.Sprintf("%s on %s", a.Alarm, ID(a.MemberID)))
		}
		if m.HealthError == "" {
			m.HealthError = "active alarm(s): " + strings.Join(types, ", ")
		}
		getOK = false
	}
	m.Healthy = getOK

	pr.list = memberList(ctx, cli)

	// AuthStatus exists from 3.5; 3.4 answers Unimplemented and the Get
	// above is the detector there. AuthStatus also catches auth that the
	// Get cannot see: a TLS client certificate whose CN is a permitted user.
	// A 3.5 member proposes AuthStatus through raft, and a 3.4 peer that
	// applies it panics ("not implemented" in applierV3backend.Apply),
	// which costs quorum in a cluster mid-upgrade (seen on the bed). So it
	// is asked only once the cluster version says every member is 3.5+.
	var as *clientv3.AuthStatusResponse
	aserr := errors.New("cluster version below 3.5")
	if clusterAtLeast35(m.ClusterVersion) {
		as, aserr = cli.AuthStatus(ctx)
	}
	if aserr == nil {
		pr.auth = pr.auth || as.Enabled
	} else if !pr.auth && p.opts.Username != "" {
		// 3.4 with credentials: the Get above passed because we logged
		// in. Ask again as nobody.
		pr.auth = p.anonymousDenied(ctx, ep)
	}
	return pr
}

// probeV3NoAuth fills a member's view when auth is on, the probe has no
// credentials and Status is refused (3.5 recent patches, 3.6+): /metrics
// for identity, leadership, indexes and sizes; /health (which the server
// runs as root) for health and alarms. The raft term stays 0.
func (p *Prober) probeV3NoAuth(ctx context.Context, ep Endpoint, cli *clientv3.Client, pr *memberProbe) {
	m := &pr.m
	pr.auth = true
	m.Reachable = true // it answered, with "who are you"
	mv, err := p.metrics(ctx, ep)
	if err != nil {
		m.Error = p.memberErr(ep, "status refused (auth is on and the probe has no credentials), then GET /metrics", err)
	} else {
		m.ID, m.IsLeader, m.IsLearner = mv.ID, mv.IsLeader, mv.IsLearner
		if mv.IsLeader {
			m.LeaderID = mv.ID
		}
		m.DBSize, m.DBSizeInUse = mv.DBSize, mv.DBSizeInUse
		m.RaftIndex, m.RaftAppliedIndex, m.Revision = mv.Committed, mv.Applied, mv.Revision
	}
	m.Healthy = p.healthOverHTTP(ctx, ep, pr)
	pr.list = memberList(ctx, cli)
}

// healthOverHTTP asks /health, which the server runs as root, whether the
// member is healthy and which alarm is active: the way to see alarms when
// auth refuses AlarmList to the probe. It notes the reason and the alarm
// in pr.
func (p *Prober) healthOverHTTP(ctx context.Context, ep Endpoint, pr *memberProbe) bool {
	m := &pr.m
	ok, reason, err := p.healthHTTP(ctx, ep)
	switch {
	case err != nil:
		m.HealthError = fmt.Sprintf("GET /health: %v", err)
	case !ok:
		m.HealthError = "GET /health: " + reason
		if t, found := strings.CutPrefix(reason, "ALARM "); found {
			// /health names the alarm, not the member that raised it.
			pr.alarms = append(pr.alarms, Alarm{Type: t})
		}
	default:
		return true
	}
	return false
}

// anonymousDenied reports whether a Get without credentials is refused
// by auth (3.4's only way to tell that auth is on).
func (p *Prober) anonymousDenied(ctx context.Context, ep Endpoint) bool {
	anon := *p
	anon.opts.Username, anon.opts.Password = "", ""
	cli, err := anon.client(ep)
	if err != nil {
		return false
	}
	defer cli.Close()
	_, err = cli.Get(ctx, "health")
	return isAuthErr(err)
}

// memberList reads MemberList; nil when it cannot.
func memberList(ctx context.Context, cli *clientv3.Client) []listedMember {
	ml, err := cli.MemberList(ctx)
	if err != nil {
		return nil
	}
	list := []listedMember{}
	for _, lm := range ml.Members {
		list = append(list, listedMember{ID: ID(lm.ID), Name: lm.Name, ClientURLs: lm.ClientURLs, IsLearner: lm.IsLearner})
	}
	return list
}

// isAuthErr: the member answered, but auth refused the request.
func isAuthErr(err error) bool {
	return errors.Is(err, rpctypes.ErrPermissionDenied) || errors.Is(err, rpctypes.ErrUserEmpty) ||
		errors.Is(err, rpctypes.ErrInvalidAuthToken) || errors.Is(err, rpctypes.ErrAuthOldRevision)
}

// MoveLeader hands leadership to the member named toName (v3 only). It is
// a no-op when that member already leads. The request goes to the current
// leader, as etcd requires.
func (p *Prober) MoveLeader(ctx context.Context, toName string) error {
	if p.opts.API == APIv2 {
		return fmt.Errorf("move leader to %s: %w: the v2 API has no leadership transfer (etcd 3.3 added MoveLeader); stopping the leader makes the others elect a new one", toName, ErrNotSupported)
	}
	c, err := p.Cluster(ctx)
	if err != nil {
		return fmt.Errorf("move leader to %s: %w", toName, err)
	}
	to := c.MemberByName(toName)
	if to == nil {
		return fmt.Errorf("move leader to %s: %w", toName, ErrUnknownMember)
	}
	if to.IsLeader {
		return nil
	}
	if to.ID == 0 || !to.Reachable {
		return fmt.Errorf("move leader to %s (%s): member is not reachable: %s", toName, to.ClientURL, to.Error)
	}
	if to.IsLearner {
		return fmt.Errorf("move leader to %s (%s): member is a learner", toName, to.ClientURL)
	}
	from := c.LeaderMember()
	if from == nil || !from.Reachable {
		return fmt.Errorf("move leader to %s: no reachable leader (leader id %s)", toName, c.LeaderID)
	}
	ep := Endpoint{Name: from.Name, URL: from.ClientURL}
	cli, err := p.client(ep)
	if err != nil {
		return fmt.Errorf("move leader to %s: %w", toName, err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, p.opts.RequestTimeout)
	defer cancel()
	if _, err := cli.MoveLeader(ctx, uint64(to.ID)); err != nil {
		return fmt.Errorf("move leader from %s (%s) to %s (%s): %w", from.Name, from.ClientURL, toName, to.ClientURL, err)
	}
	return nil
}

// Snapshot streams a v3 snapshot from the member fromName into w and
// returns the bytes written. The stream ends with etcd's SHA-256 of the
// db, which VerifySnapshot checks. Only ctx bounds it: a large db takes
// as long as it takes.
func (p *Prober) Snapshot(ctx context.Context, fromName string, w io.Writer) (int64, error) {
	if p.opts.API == APIv2 {
		return 0, fmt.Errorf("snapshot from %s: %w: v2 has no snapshot API; back up with `etcdctl backup` on the member", fromName, ErrNotSupported)
	}
	ep, err := p.resolve(ctx, fromName)
	if err != nil {
		return 0, fmt.Errorf("snapshot: %w", err)
	}
	cli, err := p.client(ep)
	if err != nil {
		return 0, fmt.Errorf("snapshot: %w", err)
	}
	defer cli.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the stream goroutine if the copy stops early
	rc, err := cli.Snapshot(ctx)
	if err != nil {
		return 0, fmt.Errorf("snapshot from %s (%s): %w", ep.Name, ep.URL, err)
	}
	defer rc.Close()
	n, err := io.Copy(w, rc)
	if err != nil {
		return n, fmt.Errorf("snapshot from %s (%s): after %d bytes: %w", ep.Name, ep.URL, n, err)
	}
	if n == 0 {
		return 0, fmt.Errorf("snapshot from %s (%s): empty stream", ep.Name, ep.URL)
	}
	return n, nil
}

// isConnError tells a member that is not there (refused, timed out, no
// route, TLS handshake failed) from one that answered badly.
func isConnError(err error) bool {
	var se *httpStatusError
	if errors.As(err, &se) {
		return false
	}
	var ue *url.Error
	var ne net.Error
	if errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	return status.Code(err) == codes.Unavailable
}

// clusterAtLeast35 reports whether a cluster version ("3.5.0") is 3.5 or
// newer; "" (undecided) is not.
func clusterAtLeast35(v string) bool {
	var major, minor int
	if _, err := fmt.Sscanf(v, "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 3 || (major == 3 && minor >= 5)
}

// countV3Keys counts the member's own v3 keys (serializable: no raft round)
// outside Options.OwnPrefix, with two count-only ranges around the prefix;
// 0 when it cannot.
func (p *Prober) countV3Keys(ctx context.Context, cli *clientv3.Client) int64 {
	ctx, cancel := context.WithTimeout(ctx, p.opts.RequestTimeout/2)
	defer cancel()
	if p.opts.OwnPrefix == "" {
		r, err := cli.Get(ctx, "\x00", clientv3.WithFromKey(), clientv3.WithCountOnly(), clientv3.WithSerializable())
		if err != nil {
			return 0
		}
		return r.Count
	}
	below, err := cli.Get(ctx, "\x00", clientv3.WithRange(p.opts.OwnPrefix), clientv3.WithCountOnly(), clientv3.WithSerializable())
	if err != nil {
		return 0
	}
	above, err := cli.Get(ctx, clientv3.GetPrefixRangeEnd(p.opts.OwnPrefix), clientv3.WithFromKey(), clientv3.WithCountOnly(), clientv3.WithSerializable())
	if err != nil {
		return 0
	}
	return below.Count + above.Count
}
