package dev.tessera.loadtest.arrival;

import java.util.Random;

/**
 * Gaps between request arrivals, gamma-distributed with mean {@code 1 / rate}: shape = burstiness, scale =
 * {@code 1 / (rate * burstiness)}, as in vLLM's {@code benchmark_serving}. Burstiness 1 is a Poisson process
 * (exponential gaps); below 1 arrivals are burstier, above 1 more regular. Seeded, one thread.
 */
public final class Arrivals {
    private final double rate;
    private final double burstiness;
    private final Random rng;

    private Arrivals(double rate, double burstiness, long seed) {
        if (!(rate > 0) || Double.isInfinite(rate)) throw new IllegalArgumentException("rate must be > 0, got " + rate);
        if (!(burstiness > 0)) throw new IllegalArgumentException("burstiness must be > 0, got " + burstiness);
        this.rate = rate;
        this.burstiness = burstiness;
        this.rng = new Random(seed);
    }

    /** A Poisson process of {@code rate} requests per second. */
    public static Arrivals poisson(double rate, long seed) {
        return new Arrivals(rate, 1.0, seed);
    }

    /** A gamma process of {@code rate} requests per second and the given burstiness (the gamma shape). */
    public static Arrivals gamma(double rate, double burstiness, long seed) {
        return new Arrivals(rate, burstiness, seed);
    }

    /** The next gap, in nanoseconds. */
    public long nextGapNanos() {
        return Math.round(nextGapSeconds() * 1e9);
    }

    /** The next gap, in seconds. */
    public double nextGapSeconds() {
        double theta = 1.0 / (rate * burstiness);
        if (burstiness == 1.0) return -Math.log(1.0 - rng.nextDouble()) * theta;
        return gamma(burstiness) * theta;
    }

    public double rate() {
        return rate;
    }

    public double burstiness() {
        return burstiness;
    }

    /** A standard gamma variate of shape k (Marsaglia and Tsang; boosted for k < 1). */
    private double gamma(double k) {
        if (k < 1) {
            double u = 1.0 - rng.nextDouble();
            return gamma(k + 1) * Math.pow(u, 1.0 / k);
        }
        double d = k - 1.0 / 3;
        double c = 1 / Math.sqrt(9 * d);
        while (true) {
            double x;
            double v;
            do {
                x = rng.nextGaussian();
                v = 1 + c * x;
            } while (v <= 0);
            v = v * v * v;
            double u = 1.0 - rng.nextDouble();
            if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
        }
    }
}
