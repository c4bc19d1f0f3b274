// Package ccache stands in for github.com/karlseguin/ccache, which the Go
// module proxy no longer serves and etcd 3.1 imports for its grpc-proxy
// response cache. It offers the few calls etcd 3.1 makes (New, Configure,
// MaxSize, Get, Set, Delete, Stop, Item.Value) as a size-bounded cache with
// per-item expiry: the oldest inserted entry is dropped when full. The test
// bed never runs the grpc-proxy; the package only has to build and behave
// sensibly. See ../README.md.
package ccache

import (
	"container/list"
	"sync"
	"time"
)

// Configuration holds the cache bound.
type Configuration struct{ maxSize int64 }

// Configure returns the default configuration (5000 entries, as upstream).
func Configure() *Configuration { return &Configuration{maxSize: 5000} }

// MaxSize sets how many entries the cache holds.
func (c *Configuration) MaxSize(n int64) *Configuration {
	c.maxSize = n
	return c
}

// Item is one cached value.
type Item struct {
	key     string
	value   interface{}
	expires time.Time
}

// Value returns the cached value.
func (i *Item) Value() interface{} { return i.value }

// Expired reports whether the item's time to live has passed.
func (i *Item) Expired() bool { return time.Now().After(i.expires) }

// Cache is a bounded map of items.
type Cache struct {
	mu    sync.Mutex
	max   int64
	order *list.List
	items map[string]*list.Element
}

// New returns an empty cache with the configured bound.
func New(c *Configuration) *Cache {
	return &Cache{max: c.maxSize, order: list.New(), items: map[string]*list.Element{}}
}

// Get returns the item under key, or nil when it is absent or expired.
func (c *Cache) Get(key string) *Item {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok {
		return nil
	}
	it := e.Value.(*Item)
	if it.Expired() {
		c.order.Remove(e)
		delete(c.items, key)
		return nil
	}
	return it
}

// Set stores value under key for ttl, dropping the oldest entry when full.
func (c *Cache) Set(key string, value interface{}, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.order.Remove(e)
	}
	c.items[key] = c.order.PushBack(&Item{key: key, value: value, expires: time.Now().Add(ttl)})
	for c.max > 0 && int64(c.order.Len()) > c.max {
		old := c.order.Front()
		c.order.Remove(old)
		delete(c.items, old.Value.(*Item).key)
	}
}

// Delete removes key and reports whether it was there.
func (c *Cache) Delete(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if ok {
		c.order.Remove(e)
		delete(c.items, key)
	}
	return ok
}

// Stop exists for the upstream API; this cache runs no goroutine.
func (c *Cache) Stop() {}
