package dev.tessera.loadtest;

import java.util.Locale;

/**
 * What a load run measured, client side.
 *
 * @param requests       requests that finished OK
 * @param errors         requests that ended with a non-OK status
 * @param tokens         output tokens received
 * @param seconds        wall time of the run
 * @param ttftP50Ms      median time to first token
 * @param ttftP99Ms      99th percentile time to first token
 * @param itlP50Ms       median gap between tokens
 * @param itlP99Ms       99th percentile gap between tokens
 * @param firstError     description of the first error, or empty
 */
public record LoadReport(long requests, long errors, long tokens, double seconds, double ttftP50Ms,
                         double ttftP99Ms, double itlP50Ms, double itlP99Ms, String firstError) {

    public double tokensPerSecond() {
        return seconds > 0 ? tokens / seconds : 0;
    }

    /** One JSON object, no trailing newline. */
    public String toJson() {
        return String.format(Locale.ROOT,
                "{\"requests\":%d,\"errors\":%d,\"tokens\":%d,\"seconds\":%.4f,\"tokens_per_s\":%.2f,"
                        + "\"ttft_p50_ms\":%.3f,\"ttft_p99_ms\":%.3f,\"itl_p50_ms\":%.3f,\"itl_p99_ms\":%.3f}",
                requests, errors, tokens, seconds, tokensPerSecond(), ttftP50Ms, ttftP99Ms, itlP50Ms, itlP99Ms);
    }
}
