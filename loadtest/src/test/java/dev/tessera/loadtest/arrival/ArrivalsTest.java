package dev.tessera.loadtest.arrival;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/**
 * Inter-arrival gaps from seeded RNGs. With n = 40000 gaps the sample mean's standard error is sd / 200; the
 * tolerances are 4 standard errors (a seeded run is deterministic; this says the bounds are not tuned to it).
 */
class ArrivalsTest {
    private static final int N = 40_000;

    private static double[] meanAndCv(Arrivals a) {
        double sum = 0;
        double sq = 0;
        for (int i = 0; i < N; i++) {
            double g = a.nextGapSeconds();
            sum += g;
            sq += g * g;
        }
        double mean = sum / N;
        double sd = Math.sqrt(sq / N - mean * mean);
        return new double[] {mean, sd / mean};
    }

    @Test
    void poissonGapsAreExponentialWithMeanOneOverRate() {
        double[] m = meanAndCv(Arrivals.poisson(4, 7));
        assertEquals(0.25, m[0], 4 * 0.25 / 200);
        assertEquals(1.0, m[1], 0.03); // an exponential's coefficient of variation is 1
    }

    @Test
    void gammaGapsKeepTheMeanAndScaleTheVarianceByBurstiness() {
        for (double k : new double[] {0.25, 0.5, 2, 4}) {
            double cv = 1 / Math.sqrt(k); // gamma(k, theta): sd / mean = 1 / sqrt(k)
            double[] m = meanAndCv(Arrivals.gamma(10, k, 11));
            assertEquals(0.1, m[0], 4 * 0.1 * cv / 200, "mean at burstiness " + k);
            assertEquals(cv, m[1], 0.06 * cv, "coefficient of variation at burstiness " + k);
        }
    }

    @Test
    void aSeedGivesTheSameGaps() {
        Arrivals a = Arrivals.gamma(3, 0.5, 42);
        Arrivals b = Arrivals.gamma(3, 0.5, 42);
        for (int i = 0; i < 100; i++) assertEquals(a.nextGapNanos(), b.nextGapNanos());
    }

    @Test
    void refusesANonPositiveRateOrBurstiness() {
        assertThrows(IllegalArgumentException.class, () -> Arrivals.poisson(0, 1));
        assertThrows(IllegalArgumentException.class, () -> Arrivals.gamma(1, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> Arrivals.poisson(Double.POSITIVE_INFINITY, 1));
    }
}
