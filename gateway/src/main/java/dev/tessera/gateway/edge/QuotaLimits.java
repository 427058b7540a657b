package dev.tessera.gateway.edge;

/**
 * What each tenant may use; 0 means no limit.
 *
 * @param maxJobs           jobs in flight at once (a Generate, a Session's job, a detection stream, an HTTP request)
 * @param requestsPerSecond jobs started per second, as a token bucket holding at most one second's worth (at least
 *                          one request)
 * @param tokensPerMinute   tokens generated per minute, as a token bucket holding one minute's worth: a job starts
 *                          while the bucket is not empty, and its tokens are taken out as they are made
 */
public record QuotaLimits(int maxJobs, double requestsPerSecond, long tokensPerMinute) {
    public QuotaLimits {
        if (maxJobs < 0) throw new IllegalArgumentException("maxJobs must be >= 0, got " + maxJobs);
        if (!(requestsPerSecond >= 0) || Double.isInfinite(requestsPerSecond)) {
            throw new IllegalArgumentException("requestsPerSecond must be finite and >= 0, got " + requestsPerSecond);
        }
        if (tokensPerMinute < 0) {
            throw new IllegalArgumentException("tokensPerMinute must be >= 0, got " + tokensPerMinute);
        }
    }

    public static QuotaLimits unlimited() {
        return new QuotaLimits(0, 0, 0);
    }
}
