// Package metrics is what arrearsd tells a Prometheus server about itself:
// its calls by method and status code and how long they took, the records
// synced by outcome, the background jobs (escalation sweep, audit
// checkpoints, idempotency key purge) and when each last succeeded, and
// the Go runtime's, the process's and the database pool's own figures.
//
// A Registry is the process's one set of metrics; its methods do nothing on
// a nil Registry, so the packages that report to it need no switch of
// their own when metrics are off.
package metrics

import (
	"database/sql"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc/codes"
)

// Registry holds arrearsd's metrics.
type Registry struct {
	reg         *prometheus.Registry
	calls       *prometheus.CounterVec
	callSeconds *prometheus.HistogramVec
	syncRecords *prometheus.CounterVec
	syncChunks  prometheus.Counter
	jobRuns     *prometheus.CounterVec
	jobSeconds  *prometheus.HistogramVec
	jobLastOK   *prometheus.GaugeVec
	swept       prometheus.Counter
}

// New returns a Registry with the runtime's and the process's collectors.
func New() *Registry {
	r := &Registry{
		reg: prometheus.NewRegistry(),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arrears_calls_total",
			Help: "Calls answered, by transport (grpc, or rest through the gateway), full gRPC method and status code.",
		}, []string{"transport", "method", "code"}),
		// From a millisecond to over four minutes: a unary call is
		// bounded by -call-timeout (2 minutes), a sync stream by its data.
		callSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "arrears_call_duration_seconds",
			Help:    "Time from a call's arrival to its answer (a stream's end), by transport and method.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"transport", "method"}),
		syncRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arrears_sync_records_total",
			Help: "Synced payable records answered, by outcome (CREATED, UPDATED, UNCHANGED, DUPLICATE, REJECTED).",
		}, []string{"outcome"}),
		syncChunks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "arrears_sync_chunks_total",
			Help: "Sync chunks committed and answered (stream and batch).",
		}),
		jobRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arrears_job_runs_total",
			Help: "Runs of the background jobs (sweep, checkpoint, purge), by result (ok, error).",
		}, []string{"job", "result"}),
		jobSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "arrears_job_duration_seconds",
			Help:    "How long a background job's run took.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"job"}),
		jobLastOK: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "arrears_job_last_success_timestamp_seconds",
			Help: "When a background job last ran without error (Unix time): alert when it falls behind its interval.",
		}, []string{"job"}),
		swept: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "arrears_sweep_invoices_total",
			Help: "Invoices whose escalation the sweep judged.",
		}),
	}
	r.reg.MustRegister(r.calls, r.callSeconds, r.syncRecords, r.syncChunks, r.jobRuns, r.jobSeconds, r.jobLastOK, r.swept,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Each job's last success is 0 until it has one: a job failing from
	// the start trips a "fell behind" alert instead of having no series.
	for _, job := range Jobs {
		r.jobLastOK.WithLabelValues(job)
	}
	return r
}

// Jobs are the background jobs' names, as Job takes them.
var Jobs = []string{"sweep", "checkpoint", "purge"}

// Handler serves the metrics in Prometheus's text format.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{Registry: r.reg})
}

// WatchDB adds the connection pool's figures (go_sql_*, db_name=name):
// connections open, in use and idle, and the waits for one.
func (r *Registry) WatchDB(name string, db *sql.DB) {
	if r == nil || db == nil {
		return
	}
	r.reg.MustRegister(collectors.NewDBStatsCollector(db, name))
}

// Pool is a connection pool's figures at a scrape (see WatchPool).
type Pool struct {
	Max, Open, InUse, Idle     int64
	Acquires, Waited, Canceled int64
	WaitTime                   time.Duration
}

// WatchPool adds a driver's connection pool's figures (arrears_db_pool_*,
// db_name=name), read at each scrape: on PostgreSQL the pool is pgx's, and
// database/sql's go_sql_* see none of its connections or waits.
func (r *Registry) WatchPool(name string, read func() Pool) {
	if r == nil || read == nil {
		return
	}
	r.reg.MustRegister(&poolCollector{read: read, labels: prometheus.Labels{"db_name": name}})
}

type poolCollector struct {
	read   func() Pool
	labels prometheus.Labels
}

var poolDescs = map[string]string{
	"arrears_db_pool_max_connections":         "The most connections the pool opens.",
	"arrears_db_pool_open_connections":        "Connections open, in use or idle.",
	"arrears_db_pool_in_use_connections":      "Connections in use.",
	"arrears_db_pool_idle_connections":        "Connections idle.",
	"arrears_db_pool_acquires_total":          "Connections taken from the pool.",
	"arrears_db_pool_waits_total":             "Connections taken that found none idle (waited for one to open or be freed).",
	"arrears_db_pool_canceled_acquires_total": "Waits for a connection given up (the call's deadline or cancellation).",
	"arrears_db_pool_acquire_seconds_total":   "Time spent taking connections.",
}

func (c *poolCollector) desc(name string) *prometheus.Desc {
	return prometheus.NewDesc(name, poolDescs[name], nil, c.labels)
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for name := range poolDescs {
		ch <- c.desc(name)
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	p := c.read()
	gauge := func(name string, v int64) {
		ch <- prometheus.MustNewConstMetric(c.desc(name), prometheus.GaugeValue, float64(v))
	}
	counter := func(name string, v float64) {
		ch <- prometheus.MustNewConstMetric(c.desc(name), prometheus.CounterValue, v)
	}
	gauge("arrears_db_pool_max_connections", p.Max)
	gauge("arrears_db_pool_open_connections", p.Open)
	gauge("arrears_db_pool_in_use_connections", p.InUse)
	gauge("arrears_db_pool_idle_connections", p.Idle)
	counter("arrears_db_pool_acquires_total", float64(p.Acquires))
	counter("arrears_db_pool_waits_total", float64(p.Waited))
	counter("arrears_db_pool_canceled_acquires_total", float64(p.Canceled))
	counter("arrears_db_pool_acquire_seconds_total", p.WaitTime.Seconds())
}

// Call counts a call answered with code after d.
func (r *Registry) Call(transport, method string, code codes.Code, d time.Duration) {
	if r == nil {
		return
	}
	r.calls.WithLabelValues(transport, method, code.String()).Inc()
	r.callSeconds.WithLabelValues(transport, method).Observe(d.Seconds())
}

// SyncChunk counts a chunk answered, with its records' outcomes.
func (r *Registry) SyncChunk(outcomes []string) {
	if r == nil {
		return
	}
	r.syncChunks.Inc()
	for _, o := range outcomes {
		r.syncRecords.WithLabelValues(o).Inc()
	}
}

// Job records a run of a background job that took d and ended with err
// (nil: success).
func (r *Registry) Job(job string, d time.Duration, err error, now time.Time) {
	if r == nil {
		return
	}
	r.jobSeconds.WithLabelValues(job).Observe(d.Seconds())
	if err != nil {
		r.jobRuns.WithLabelValues(job, "error").Inc()
		return
	}
	r.jobRuns.WithLabelValues(job, "ok").Inc()
	r.jobLastOK.WithLabelValues(job).Set(float64(now.UnixNano()) / 1e9)
}

// Swept counts invoices the sweep judged.
func (r *Registry) Swept(n int) {
	if r == nil {
		return
	}
	r.swept.Add(float64(n))
}
