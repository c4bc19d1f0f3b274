package testbed

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// WriterPrefix is where the background writer writes.
const WriterPrefix = "/etcdplay-bed/writer/"

// WriterStats is what a background writer saw.
type WriterStats struct {
	OK, Failed   int
	MaxLatency   time.Duration // slowest successful write
	LongestStall time.Duration // longest time with no successful write (including the start and the end)
	Duration     time.Duration
	LastError    string
	// StallStart is when the longest stall began (the last successful
	// write before it); FailedAt is when each failed write was sent. Both
	// let a test line a stall up with what the upgrade was doing.
	StallStart time.Time
	FailedAt   []time.Time
}

func (s WriterStats) String() string {
	return fmt.Sprintf("%d ok, %d failed, max latency %v, longest stall %v over %v",
		s.OK, s.Failed, s.MaxLatency.Round(time.Millisecond), s.LongestStall.Round(time.Millisecond),
		s.Duration.Round(time.Millisecond))
}

// Writer writes to the cluster in the background, like an application
// during a rolling upgrade.
type Writer struct {
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
	stats  WriterStats
}

// WriterInterval is the pause between two writes; WriterTimeout bounds one
// write (a write that takes longer counts as failed).
const (
	WriterInterval = 10 * time.Millisecond
	WriterTimeout  = 2 * time.Second
)

// StartWriter starts one writer with one client that knows every endpoint
// (clientv3's balancer on v3; on v2, the next endpoint after a failure, as
// the v2 client libraries do). It writes a new key every WriterInterval
// with a WriterTimeout deadline and counts failures, the slowest write and
// the longest stall. Stop it with Stop; Close stops it too.
func (c *Cluster) StartWriter(ctx context.Context) (*Writer, error) {
	return c.startWriter(ctx, c.Endpoints(), "w")
}

// StartWriterOn is StartWriter with a client that knows host i's endpoint
// only, like an application pinned to one member: while that member is
// down its writes fail (the leader-pinned writer of the benchmark).
func (c *Cluster) StartWriterOn(ctx context.Context, i int) (*Writer, error) {
	return c.startWriter(ctx, []string{c.Hosts[i].ClientURL}, fmt.Sprintf("p%d-", i))
}

func (c *Cluster) startWriter(ctx context.Context, eps []string, tag string) (*Writer, error) {
	var put func(ctx context.Context, key, value string) error
	var closeClient func()
	if c.API == "v3" {
		cli, err := c.newV3Client(eps)
		if err != nil {
			return nil, err
		}
		closeClient = func() { cli.Close() }
		put = func(ctx context.Context, key, value string) error {
			_, err := cli.Put(ctx, key, value)
			return err
		}
	} else {
		cur := 0
		closeClient = func() {}
		put = func(ctx context.Context, key, value string) error {
			var err error
			for ctx.Err() == nil {
				if err = v2Put(ctx, eps[cur], key, value); err == nil {
					return nil
				}
				cur = (cur + 1) % len(eps)
				select {
				case <-ctx.Done():
				case <-time.After(20 * time.Millisecond):
				}
			}
			return err
		}
	}
	wctx, cancel := context.WithCancel(ctx)
	w := &Writer{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		defer closeClient()
		w.run(wctx, c.Name, tag, put)
	}()
	c.mu.Lock()
	c.writers = append(c.writers, w)
	c.mu.Unlock()
	return w, nil
}

func (w *Writer) run(ctx context.Context, cluster, tag string, put func(context.Context, string, string) error) {
	start := time.Now()
	lastOK := start
	st := &w.stats
	for seq := 0; ; seq++ {
		key := fmt.Sprintf("%s%s%07d", WriterPrefix, tag, seq)
		t0 := time.Now()
		pctx, cancel := context.WithTimeout(ctx, WriterTimeout)
		err := put(pctx, key, keyValue(cluster, key, seq))
		cancel()
		now := time.Now()
		if ctx.Err() != nil {
			// Stopped mid-write: the write is neither ok nor failed.
			break
		}
		if err != nil {
			st.Failed++
			st.LastError = err.Error()
			st.FailedAt = append(st.FailedAt, t0)
		} else {
			st.OK++
			st.MaxLatency = max(st.MaxLatency, now.Sub(t0))
			if now.Sub(lastOK) > st.LongestStall {
				st.LongestStall, st.StallStart = now.Sub(lastOK), lastOK
			}
			lastOK = now
		}
		select {
		case <-ctx.Done():
		case <-time.After(WriterInterval):
		}
		if ctx.Err() != nil {
			break
		}
	}
	end := time.Now()
	if end.Sub(lastOK) > st.LongestStall {
		st.LongestStall, st.StallStart = end.Sub(lastOK), lastOK
	}
	st.Duration = end.Sub(start)
}

// Stop stops the writer and returns its counts. Calling it again returns
// the same counts.
func (w *Writer) Stop() WriterStats {
	w.once.Do(func() {
		w.cancel()
		<-w.done
	})
	return w.stats
}
