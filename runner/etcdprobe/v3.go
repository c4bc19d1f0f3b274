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
		Logger:      zap.NewNop(), // the library's warnings are ours to report
	})
	if err != nil {
		return nil, fmt.Errorf("%s (%s): client: %w", ep.Name, ep.URL, err)
	}
	return cli, nil
}

// probeV3 asks one member, in this order: /version (HTTP; a refused
// connection ends the probe quickly), Status, Get "health", AlarmList,
// MemberList, AuthStatus.
func (p *Prober) probeV3(ctx context.Context, ep Endpoint) memberProbe {
	var pr memberProbe
	m := &pr.m
	v, verr := p.versions(ctx, ep)
	if verr != nil && isConnError(verr) {
		m.Error = memberErr(ep, "GET /version", verr)
		return pr
	}
	m.Server, m.Cluster, m.Storage = v.Server, v.Cluster, v.Storage

	cli, err := p.client(ep)
	if err != nil {
		m.Error = err.Error()
		return pr
	}
	defer cli.Close()

	st, err := cli.Status(ctx, ep.URL)
	if err != nil {
		m.Error = memberErr(ep, "status", err)
		return pr
	}
	m.Reachable = true
	if verr != nil {
		m.Error = memberErr(ep, "GET /version", verr)
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
	m.DBSize, m.DBSizeInUse = st.DbSize, st.DbSizeInUse
	m.RaftIndex, m.RaftAppliedIndex, m.RaftTerm = st.RaftIndex, st.RaftAppliedIndex, st.RaftTerm
	m.Revision = st.Header.GetRevision()

	// Health as etcdctl endpoint health: a linearizable Get of "health"
	// (through raft, so it needs a leader and a quorum). Permission denied
	// and an empty user name are answers too: auth is on, and the member
	// served the request as far as auth let it.
	_, gerr := cli.Get(ctx, "health")
	authErr := errors.Is(gerr, rpctypes.ErrPermissionDenied) || errors.Is(gerr, rpctypes.ErrUserEmpty) ||
		errors.Is(gerr, rpctypes.ErrInvalidAuthToken)
	getOK := gerr == nil || authErr
	if authErr {
		pr.auth = true
	}
	if !getOK {
		m.HealthError = fmt.Sprintf("get health: %v", gerr)
	}

	ar, aerr := cli.AlarmList(ctx)
	switch {
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

	if ml, err := cli.MemberList(ctx); err == nil {
		pr.list = []listedMember{}
		for _, lm := range ml.Members {
			pr.list = append(pr.list, listedMember{ID: ID(lm.ID), Name: lm.Name, ClientURLs: lm.ClientURLs, IsLearner: lm.IsLearner})
		}
	}

	// AuthStatus exists from 3.5; 3.4 answers Unimplemented and the Get
	// above is the detector there. AuthStatus also catches auth that the
	// Get cannot see: a TLS client certificate whose CN is a permitted user.
	if as, err := cli.AuthStatus(ctx); err == nil {
		pr.auth = pr.auth || as.Enabled
	}
	return pr
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
