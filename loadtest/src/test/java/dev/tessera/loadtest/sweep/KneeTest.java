package dev.tessera.loadtest.sweep;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The knee of achieved throughput against offered rate. */
class KneeTest {
    @Test
    void theKneeIsWhereThroughputStopsFollowingTheRate() {
        double[] rate = {1, 2, 4, 8, 16};
        assertEquals(2, Knee.of(rate, new double[] {1, 2, 3.9, 4.2, 4.3}));
        assertEquals(1, Knee.of(rate, new double[] {1, 1.95, 2.0, 2.0, 1.9}));
    }

    @Test
    void aShortOrStillRisingCurveHasNoKnee() {
        assertEquals(-1, Knee.of(new double[] {1, 2}, new double[] {1, 2}));
        assertEquals(-1, Knee.of(new double[] {1, 2, 3}, new double[] {1, 2, 3}));
        // measured on bin/engine serve: throughput followed the rate up to 32 req/s, with noise
        assertEquals(-1, Knee.of(new double[] {2, 4, 8, 16, 32}, new double[] {1.88, 3.85, 7.99, 15.23, 30.83}));
        assertEquals(-1, Knee.of(new double[0], new double[0]));
    }
}
