package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestJobsStartAtZero: every background job has a last success from the
// start, 0 until its first, so an alert on its age fires for a job that
// fails from the start instead of finding no series.
func TestJobsStartAtZero(t *testing.T) {
	rec := httptest.NewRecorder()
	New().Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, job := range Jobs {
		if want := `arrears_job_last_success_timestamp_seconds{job="` + job + `"} 0`; !strings.Contains(string(body), want) {
			t.Errorf("a new registry lacks %s", want)
		}
	}
}
