package notify

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	sent     *prometheus.CounterVec
	failed   *prometheus.CounterVec
	pruned   prometheus.Counter
	retries  *prometheus.CounterVec
	dead     prometheus.Counter
	deferred prometheus.Counter
	created  *prometheus.CounterVec
	lateness prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clavis_push_sent_total", Help: "Pushes FCM accepted, by push type (one per device).",
		}, []string{"type"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clavis_push_failed_total", Help: "Pushes not delivered, by reason (one per device, or per job for no_device, expired, no_recipient).",
		}, []string{"reason"}),
		pruned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "clavis_push_tokens_pruned_total", Help: "Device tokens forgotten because FCM called them unregistered or invalid.",
		}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clavis_push_retries_total", Help: "Push jobs put back for another attempt, by reason.",
		}, []string{"reason"}),
		dead: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "clavis_push_jobs_dead_total", Help: "Push jobs abandoned after their last attempt or past their outing's start.",
		}),
		deferred: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "clavis_push_deferred_total", Help: "Push jobs moved to the end of a recipient's quiet hours.",
		}),
		created: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clavis_push_jobs_created_total", Help: "Push jobs created, by kind and source (event or reconciler).",
		}, []string{"kind", "source"}),
		lateness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "clavis_push_lateness_seconds", Help: "Time from a push's due time to its first send.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300},
		}),
	}
	for _, c := range []prometheus.Collector{m.sent, m.failed, m.pruned, m.retries, m.dead, m.deferred, m.created, m.lateness} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
