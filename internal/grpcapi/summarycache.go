package grpcapi

import (
	clist "container/list"
	"sync"
	"time"

	"github.com/arrears/arrears/internal/service"
)

// summaryCache keeps the summaries whose pages clients are still reading.
// A summary's groups are fixed by its request, caller, as_of and known_at
// (the page token carries the last two), so a later page can be cut from
// the groups its first page computed. Recomputing them for every page
// cost a by-debtor summary of 10,000 debtors ten times its one
// computation; worse, on a live ledger every later page found changes
// recorded after its known_at, and judged every invoice in scope. Another
// replica, or a page read after summaryCacheTTL, computes them again, with
// the same result. Only summaries with a page still to read are kept, by a
// digest of their key, bounded by their groups in all (summaryCacheGroups);
// one larger than that is not kept.
type summaryCache struct {
	mu      sync.Mutex
	entries map[string]*clist.Element // of *cachedSummary, most recent first
	order   *clist.List
	groups  int
}

type cachedSummary struct {
	key      string
	groups   []*service.SummaryGroup
	detailed bool
	at       time.Time
}

const (
	summaryCacheGroups = 20000
	summaryCacheTTL    = 10 * time.Minute
)

func newSummaryCache() *summaryCache {
	return &summaryCache{entries: map[string]*clist.Element{}, order: clist.New()}
}

// get returns the summary kept under key, if it is younger than the TTL
// at now.
func (c *summaryCache) get(key string, now time.Time) ([]*service.SummaryGroup, bool, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return nil, false, false
	}
	s := e.Value.(*cachedSummary)
	if now.Sub(s.at) > summaryCacheTTL || now.Before(s.at) {
		c.remove(e)
		return nil, false, false
	}
	c.order.MoveToFront(e)
	return s.groups, s.detailed, true
}

// put keeps a summary, dropping the least recently read past the bound.
func (c *summaryCache) put(key string, groups []*service.SummaryGroup, detailed bool, now time.Time) {
	if len(groups) > summaryCacheGroups {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok {
		c.remove(e)
	}
	for c.groups+len(groups) > summaryCacheGroups {
		c.remove(c.order.Back())
	}
	c.entries[key] = c.order.PushFront(&cachedSummary{key: key, groups: groups, detailed: detailed, at: now})
	c.groups += len(groups)
}

func (c *summaryCache) remove(e *clist.Element) {
	s := c.order.Remove(e).(*cachedSummary)
	delete(c.entries, s.key)
	c.groups -= len(s.groups)
}
