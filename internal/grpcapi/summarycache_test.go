package grpcapi

import (
	"fmt"
	"testing"
	"time"

	"github.com/arrears/arrears/internal/service"
)

// TestSummaryCacheBounds: the cache keeps summaries up to its bound in
// groups, dropping the least recently read first, forgets one past its TTL,
// and keeps none larger than the bound.
func TestSummaryCacheBounds(t *testing.T) {
	c := newSummaryCache()
	now := time.Date(2025, 11, 20, 12, 0, 0, 0, time.UTC)
	groups := func(n int) []*service.SummaryGroup { return make([]*service.SummaryGroup, n) }
	third := summaryCacheGroups / 3
	for i := range 3 {
		c.put(fmt.Sprint(i), groups(third), i == 1, now)
	}
	if g, detailed, ok := c.get("1", now); !ok || len(g) != third || !detailed {
		t.Fatalf("get 1: %d groups, detailed %v, %v", len(g), detailed, ok)
	}
	c.get("0", now)
	c.put("3", groups(third), false, now) // past the bound: 2, read least recently, goes
	for key, want := range map[string]bool{"0": true, "1": true, "2": false, "3": true} {
		if _, _, ok := c.get(key, now); ok != want {
			t.Errorf("after the bound, %s kept %v, want %v", key, ok, want)
		}
	}
	if c.groups != 3*third {
		t.Errorf("%d groups counted, want %d", c.groups, 3*third)
	}
	if _, _, ok := c.get("0", now.Add(summaryCacheTTL+time.Second)); ok {
		t.Error("a summary past its TTL was served")
	}
	c.put("big", groups(summaryCacheGroups+1), false, now)
	if _, _, ok := c.get("big", now); ok || c.groups != 2*third {
		t.Errorf("a summary over the bound kept %v; %d groups counted", ok, c.groups)
	}
}
