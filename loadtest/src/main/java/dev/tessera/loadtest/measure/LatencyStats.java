package dev.tessera.loadtest.measure;

import java.util.Arrays;

/**
 * Mean, standard deviation (population) and percentiles (linear interpolation between closest ranks, as numpy's
 * default) of a set of latencies in milliseconds; all NaN for an empty set.
 */
public record LatencyStats(int count, double mean, double std, double p50, double p90, double p99) {
    /** The statistics of {@code values}, ignoring NaNs; {@code values} is not modified. */
    public static LatencyStats of(double[] values) {
        double[] v = Arrays.stream(values).filter(Double::isFinite).sorted().toArray();
        if (v.length == 0) return new LatencyStats(0, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
        double sum = 0;
        for (double x : v) sum += x;
        double mean = sum / v.length;
        double sq = 0;
        for (double x : v) sq += (x - mean) * (x - mean);
        return new LatencyStats(v.length, mean, Math.sqrt(sq / v.length), percentile(v, 50), percentile(v, 90),
                percentile(v, 99));
    }

    /** The {@code p}-th percentile of sorted values. */
    static double percentile(double[] sorted, double p) {
        double rank = p / 100 * (sorted.length - 1);
        int lo = (int) Math.floor(rank);
        int hi = Math.min(sorted.length - 1, lo + 1);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }

    /** {@code {"mean":..,"std":..,"p50":..,"p90":..,"p99":..}}. */
    public String toJson() {
        return "{\"mean\":" + Json.number(mean) + ",\"std\":" + Json.number(std) + ",\"p50\":" + Json.number(p50)
                + ",\"p90\":" + Json.number(p90) + ",\"p99\":" + Json.number(p99) + "}";
    }
}
