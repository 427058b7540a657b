package dev.tessera.bench;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The bench's two kernels agree: the Java kernel matches ORT's GroupQueryAttention on the same decode step. */
class AttentionBenchTest {
    @Test
    void javaKernelMatchesOrtGroupQueryAttention() throws Exception {
        AttentionBench bench = new AttentionBench(2);
        try {
            for (int past : new int[] {1, 37, 100}) {
                AttentionBench.ShapeResult r = bench.measure(3, past, 1);
                assertTrue(r.maxAbsDiff() <= 1e-4, "past " + past + ": max abs diff " + r.maxAbsDiff());
            }
        } finally {
            bench.close();
        }
    }
}
