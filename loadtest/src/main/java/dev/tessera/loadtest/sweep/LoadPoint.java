package dev.tessera.loadtest.sweep;

/**
 * The offered load of one run: an open loop at {@code rate} requests/s with gamma arrivals of the given burstiness
 * (1: Poisson), optionally capped at {@code maxConcurrency} requests in flight; or, with an infinite rate, a closed
 * loop of {@code maxConcurrency} requests always in flight.
 */
public record LoadPoint(double rate, double burstiness, int maxConcurrency) {
    public LoadPoint {
        if (!(rate > 0)) throw new IllegalArgumentException("rate must be > 0, got " + rate);
        if (!(burstiness > 0)) throw new IllegalArgumentException("burstiness must be > 0, got " + burstiness);
        if (maxConcurrency < 0) throw new IllegalArgumentException("concurrency must be >= 0, got " + maxConcurrency);
        if (Double.isInfinite(rate) && maxConcurrency == 0) {
            throw new IllegalArgumentException("give a request rate, a concurrency, or both");
        }
    }

    /** Whether requests are sent as fast as the concurrency allows. */
    public boolean closedLoop() {
        return Double.isInfinite(rate);
    }

    /** A short label: {@code 4 req/s}, {@code 4 req/s, <= 8 in flight}, {@code 8 in flight}. */
    public String label() {
        String r = closedLoop() ? "" : dev.tessera.loadtest.measure.Json.number(rate) + " req/s";
        if (maxConcurrency == 0) return r;
        return (r.isEmpty() ? "" : r + ", <= ") + maxConcurrency + " in flight";
    }
}
