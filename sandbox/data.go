package sandbox

import (
	"context"
	"fmt"
	"hash/crc32"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// SamplePrefix is where the demo's sample keys live.
const SamplePrefix = "/etcdplay-demo/"

// sampleValue is key i's value: it names the key and ends with a CRC, so a
// value lost, truncated or swapped with another key's is caught.
func sampleValue(i int) (key, value string) {
	key = fmt.Sprintf("%sk%06d", SamplePrefix, i)
	body := fmt.Sprintf("%s|sample %d written before the upgrade", key, i)
	return key, fmt.Sprintf("%s|%08x", body, crc32.ChecksumIEEE([]byte(body)))
}

func client(endpoints []string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
}

// WriteSample writes n sample keys through the v3 API, 8 at a time.
func WriteSample(ctx context.Context, endpoints []string, n int) error {
	cli, err := client(endpoints)
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	next := make(chan int)
	errc := make(chan error, 8)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				k, v := sampleValue(i)
				if _, err := cli.Put(ctx, k, v); err != nil {
					errc <- fmt.Errorf("write %s: %w", k, err)
					return
				}
			}
		}()
	}
	var ferr error
feed:
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case ferr = <-errc:
			break feed
		}
	}
	close(next)
	wg.Wait()
	if ferr == nil {
		select {
		case ferr = <-errc:
		default:
		}
	}
	return ferr
}

// VerifySample reads every sample key with a linearizable read and checks
// there are exactly n, each with its value. It returns how many are good.
func VerifySample(ctx context.Context, endpoints []string, n int) (int, error) {
	cli, err := client(endpoints)
	if err != nil {
		return 0, err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	resp, err := cli.Get(ctx, SamplePrefix, clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("read %s*: %w", SamplePrefix, err)
	}
	got := map[string]string{}
	for _, kv := range resp.Kvs {
		got[string(kv.Key)] = string(kv.Value)
	}
	var bad []string
	ok := 0
	for i := 0; i < n; i++ {
		k, v := sampleValue(i)
		switch g, found := got[k]; {
		case !found:
			bad = append(bad, k+" missing")
		case g != v:
			bad = append(bad, fmt.Sprintf("%s is %q", k, g))
		default:
			ok++
		}
	}
	if len(got) != n {
		bad = append(bad, fmt.Sprintf("%d keys under %s, wrote %d", len(got), SamplePrefix, n))
	}
	if len(bad) > 0 {
		if len(bad) > 5 {
			bad = append(bad[:5], "...")
		}
		return ok, fmt.Errorf("%d of %d sample keys good: %s", ok, n, strings.Join(bad, "; "))
	}
	return ok, nil
}
