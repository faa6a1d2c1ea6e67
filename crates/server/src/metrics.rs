//! The service's Prometheus metrics: requests and latency by route and status,
//! events stored, closes.

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry};

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pub events: IntCounterVec,
    pub closes: IntCounter,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("revshare_http_requests_total", "HTTP requests by route and status"),
            &["route", "status"],
        )
        .expect("a valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "revshare_http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
            &["route"],
        )
        .expect("a valid metric");
        let events = IntCounterVec::new(
            Opts::new("revshare_events_total", "Usage events posted, by outcome"),
            &["outcome"],
        )
        .expect("a valid metric");
        let closes = IntCounter::new("revshare_statements_closed_total", "Statements closed").expect("a valid metric");
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(events.clone()),
            Box::new(closes.clone()),
        ] {
            registry.register(collector).expect("metrics register once");
        }
        Metrics {
            registry,
            requests,
            latency,
            events,
            closes,
        }
    }

    /// The Prometheus text format.
    /// Counts one answered request and its latency.
    pub fn request(&self, route: &str, status: u16, latency: std::time::Duration) {
        self.requests.with_label_values(&[route, &status.to_string()]).inc();
        self.latency.with_label_values(&[route]).observe(latency.as_secs_f64());
    }

    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        let encoder = prometheus::TextEncoder::new();
        // Encoding gathered families into a Vec cannot fail.
        let _ = encoder.encode(&self.registry.gather(), &mut buffer);
        String::from_utf8(buffer).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}
