package dev.tessera.engine.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link PackedAttention} against a double-precision reference.
 *
 * <p>Tolerance: {@code |out - ref| <= 1e-5 * max(1, |ref|)}. Values are drawn from [-1, 1], so every output (a convex
 * combination of value rows) lies in [-1, 1] and the bound is 1e-5 of the value range. The kernel's float32 error is
 * a few roundings (about 6e-8 each) per score, exponential (the vector exp is within 2e-7), sum and P·V term,
 * accumulated over at most a few thousand keys: at most 7.6e-7 in these tests (4e-7 for random inputs). A kernel
 * that drops, repeats or misweights one key of N is off by about 1/N, orders of magnitude more.
 */
class PackedAttentionTest {
    private static final double TOLERANCE = 1e-5;

    /** Packed inputs of one test call. */
    private static final class Fixture {
        final int numHeads;
        final int numKvHeads;
        final int headDim;
        final int[] cuQ;
        final int[] cuK;
        final float[] q;
        final float[] k;
        final float[] v;

        Fixture(int numHeads, int numKvHeads, int headDim, int[] qLens, int[] kLens, long seed) {
            this.numHeads = numHeads;
            this.numKvHeads = numKvHeads;
            this.headDim = headDim;
            this.cuQ = offsets(qLens);
            this.cuK = offsets(kLens);
            Random rnd = new Random(seed);
            q = random(rnd, cuQ[qLens.length] * numHeads * headDim, 2f);
            k = random(rnd, cuK[kLens.length] * numKvHeads * headDim, 1f);
            v = random(rnd, cuK[kLens.length] * numKvHeads * headDim, 1f);
        }

        int spans() {
            return cuQ.length - 1;
        }

        float[] run(PackedAttention attention) {
            float[] out = new float[q.length];
            Arrays.fill(out, Float.NaN); // every row must be written
            attention.forward(q, k, v, cuQ, cuK, spans(), out);
            return out;
        }

        /** Softmax attention of every span's queries over its keys, in double precision. */
        double[] reference() {
            int d = headDim;
            int g = numHeads / numKvHeads;
            int qRow = numHeads * d;
            int kvRow = numKvHeads * d;
            double scale = 1.0 / Math.sqrt(d);
            double[] out = new double[q.length];
            for (int s = 0; s < spans(); s++) {
                int nk = cuK[s + 1] - cuK[s];
                double[] w = new double[nk];
                for (int t = cuQ[s]; t < cuQ[s + 1]; t++) {
                    for (int h = 0; h < numHeads; h++) {
                        int qo = t * qRow + h * d;
                        int kvh = (h / g) * d;
                        double max = Double.NEGATIVE_INFINITY;
                        for (int j = 0; j < nk; j++) {
                            int ko = (cuK[s] + j) * kvRow + kvh;
                            double dot = 0;
                            for (int i = 0; i < d; i++) dot += (double) q[qo + i] * k[ko + i];
                            w[j] = dot * scale;
                            max = Math.max(max, w[j]);
                        }
                        double sum = 0;
                        for (int j = 0; j < nk; j++) sum += (w[j] = Math.exp(w[j] - max));
                        for (int i = 0; i < d; i++) {
                            double o = 0;
                            for (int j = 0; j < nk; j++) o += w[j] * v[(cuK[s] + j) * kvRow + kvh + i];
                            out[qo + i] = o / sum;
                        }
                    }
                }
            }
            return out;
        }
    }

    static int[] offsets(int[] lens) {
        int[] cu = new int[lens.length + 1];
        for (int i = 0; i < lens.length; i++) cu[i + 1] = cu[i] + lens[i];
        return cu;
    }

    static float[] random(Random rnd, int n, float range) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (rnd.nextFloat() * 2 - 1) * range;
        return a;
    }

    /** Asserts {@code |out - ref| <= TOLERANCE * max(1, |ref|)} everywhere; returns the largest scaled error. */
    private static double assertClose(float[] out, double[] ref, String what) {
        double worst = 0;
        int at = -1;
        for (int i = 0; i < ref.length; i++) {
            double e = Math.abs(out[i] - ref[i]) / Math.max(1.0, Math.abs(ref[i]));
            if (!(e <= worst)) { // NaN counts as worst
                worst = Double.isNaN(e) ? Double.POSITIVE_INFINITY : e;
                at = i;
            }
        }
        assertTrue(worst <= TOLERANCE, what + ": scaled error " + worst + " at " + at + " (out " + (at < 0 ? 0
                : out[at]) + ", ref " + (at < 0 ? 0 : ref[at]) + ")");
        return worst;
    }

    /**
     * Span layouts: odd lengths, many spans, queries shorter and longer than keys, single rows, empty query spans,
     * spans longer than one work item and one tile.
     */
    static Stream<Arguments> shapes() {
        int[][][] layouts = {
            // self-attention: odd lengths, one of them over several items and tiles, single rows
            {{37, 1, 130, 5, 1, 64, 17, 3}, {37, 1, 130, 5, 1, 64, 17, 3}},
            // cross-attention: queries shorter and longer than keys, an empty query span, a single key
            {{100, 3, 0, 9, 250, 1, 70}, {61, 200, 13, 1, 7, 33, 1}},
        };
        int[][] heads = {{8, 8}, {8, 2}, {6, 3}, {4, 1}}; // MHA, GQA 4, GQA 2, MQA
        List<Arguments> a = new ArrayList<>();
        for (int d : new int[] {32, 64, 80, 128}) {
            for (int[] h : heads) {
                for (int l = 0; l < layouts.length; l++) a.add(Arguments.of(d, h[0], h[1], l, layouts[l][0], layouts[l][1]));
            }
        }
        return a.stream();
    }

    @ParameterizedTest(name = "head dim {0}, {1} heads / {2} kv heads, layout {3}")
    @MethodSource("shapes")
    void matchesDoublePrecisionReference(int headDim, int heads, int kvHeads, int layout, int[] qLens, int[] kLens) {
        Fixture f = new Fixture(heads, kvHeads, headDim, qLens, kLens, 1000L * headDim + 10L * heads + layout);
        try (AttentionWorkers workers = new AttentionWorkers("packed-test", 2);
                PackedAttention attention = new PackedAttention(heads, kvHeads, headDim, workers)) {
            float[] out = f.run(attention);
            assertClose(out, f.reference(), "packed");
            assertArrayEquals(out, f.run(attention), "a second call on the same kernel gives the same bits");
        }
    }

    @Test
    void manySpansOnTheCallingThreadOnly() {
        Random rnd = new Random(5);
        int spans = 200;
        int[] qLens = new int[spans];
        int[] kLens = new int[spans];
        for (int s = 0; s < spans; s++) {
            qLens[s] = rnd.nextInt(5) == 0 ? 0 : 1 + rnd.nextInt(40);
            kLens[s] = 1 + rnd.nextInt(60);
        }
        Fixture f = new Fixture(8, 4, 32, qLens, kLens, 6);
        try (PackedAttention attention = new PackedAttention(8, 4, 32)) {
            assertClose(f.run(attention), f.reference(), "200 spans");
        }
    }

    @Test
    void longSpansCrossManyTilesAndItems() {
        Fixture f = new Fixture(4, 4, 80, new int[] {700, 3}, new int[] {900, 1100}, 9);
        try (AttentionWorkers workers = new AttentionWorkers("packed-test", 3);
                PackedAttention attention = new PackedAttention(4, 4, 80, workers)) {
            assertClose(f.run(attention), f.reference(), "long spans");
        }
    }

    /**
     * Keys far from zero: one span's scores are all around -1000, the others' around +1000, spread by a few units.
     * Only a running maximum keeps the exponentials finite and non-zero (exp(1000) overflows, exp(-1000) is 0). Head dim 64 (scale 1/8) and integer-valued q and k
     * make every score exact in float32, so the comparison tests the softmax, not the rounding of huge dot products.
     */
    @Test
    void veryNegativeAndVeryLargeScoresStayExact() {
        int d = 64;
        int[] lens = {70, 1, 90};
        Fixture f = new Fixture(4, 2, d, lens, lens, 21);
        Random rnd = new Random(22);
        for (int i = 0; i < f.q.length; i++) f.q[i] = 1 + rnd.nextInt(3); // 1..3
        int kvRow = 2 * d;
        for (int s = 0; s < lens.length; s++) {
            float base = s == 0 ? -60f : 60f; // q . k / 8 about 2 * 60 * 64 / 8 = 960 in magnitude
            for (int r = f.cuK[s]; r < f.cuK[s + 1]; r++) {
                for (int i = 0; i < kvRow; i++) f.k[r * kvRow + i] = base + rnd.nextInt(5) - 2;
            }
        }
        try (PackedAttention attention = new PackedAttention(4, 2, d)) {
            float[] out = f.run(attention);
            double[] ref = f.reference();
            for (float x : out) assertTrue(Float.isFinite(x), "finite");
            assertClose(out, ref, "huge scores");
        }
    }

    /**
     * A span's output does not depend on what it is packed with: each span of a packed call equals, bit for bit, the
     * same span attended alone (at row 0 of its own arrays), on any number of threads.
     */
    @Test
    void aSpanPackedWithOthersGivesTheBitsItGivesAlone() {
        int heads = 8;
        int kvHeads = 8;
        int d = 32;
        int[] qLens = {100, 1, 333, 0, 64, 65, 17, 100};
        int[] kLens = {160, 7, 333, 12, 500, 64, 1, 100};
        Fixture packed = new Fixture(heads, kvHeads, d, qLens, kLens, 77);
        try (AttentionWorkers three = new AttentionWorkers("packed-test", 3);
                PackedAttention parallel = new PackedAttention(heads, kvHeads, d, three);
                PackedAttention single = new PackedAttention(heads, kvHeads, d)) {
            float[] all = packed.run(parallel);
            assertArrayEquals(all, packed.run(single), "one thread and three threads agree");
            int qRow = heads * d;
            int kvRow = kvHeads * d;
            for (int s = 0; s < qLens.length; s++) {
                float[] q = Arrays.copyOfRange(packed.q, packed.cuQ[s] * qRow, packed.cuQ[s + 1] * qRow);
                float[] k = Arrays.copyOfRange(packed.k, packed.cuK[s] * kvRow, packed.cuK[s + 1] * kvRow);
                float[] v = Arrays.copyOfRange(packed.v, packed.cuK[s] * kvRow, packed.cuK[s + 1] * kvRow);
                float[] alone = new float[q.length];
                parallel.forward(q, k, v, new int[] {0, qLens[s]}, new int[] {0, kLens[s]}, 1, alone);
                float[] part = Arrays.copyOfRange(all, packed.cuQ[s] * qRow, packed.cuQ[s + 1] * qRow);
                assertArrayEquals(alone, part, "span " + s + " alone vs packed");
            }
        }
    }

    @Test
    void emptyCallsWriteNothing() {
        try (PackedAttention attention = new PackedAttention(2, 1, 16)) {
            float[] out = {42f};
            attention.forward(new float[0], new float[0], new float[0], new int[] {0}, new int[] {0}, 0, out);
            // spans without queries, with or without keys
            attention.forward(new float[0], new float[32], new float[32], new int[] {0, 0, 0}, new int[] {0, 0, 2}, 2,
                    out);
            assertEquals(42f, out[0]);
        }
    }

    @Test
    void rejectsBadArguments() {
        assertThrows(IllegalArgumentException.class, () -> new PackedAttention(6, 4, 32));
        assertThrows(IllegalArgumentException.class, () -> new PackedAttention(4, 4, 0));
        try (PackedAttention attention = new PackedAttention(2, 1, 16)) {
            float[] q = new float[2 * 32];
            float[] kv = new float[2 * 16];
            float[] out = new float[q.length];
            // queries but no keys
            assertThrows(IllegalArgumentException.class,
                    () -> attention.forward(q, kv, kv, new int[] {0, 2}, new int[] {0, 0}, 1, out));
            // decreasing offsets, wrong start, too few entries
            assertThrows(IllegalArgumentException.class,
                    () -> attention.forward(q, kv, kv, new int[] {0, 2, 1}, new int[] {0, 1, 2}, 2, out));
            assertThrows(IllegalArgumentException.class,
                    () -> attention.forward(q, kv, kv, new int[] {1, 2}, new int[] {0, 2}, 1, out));
            assertThrows(IllegalArgumentException.class,
                    () -> attention.forward(q, kv, kv, new int[] {0}, new int[] {0, 2}, 1, out));
            // arrays too short for the offsets
            assertThrows(IllegalArgumentException.class,
                    () -> attention.forward(q, kv, kv, new int[] {0, 3}, new int[] {0, 2}, 1, new float[3 * 32]));
            assertThrows(IllegalArgumentException.class,
                    () -> attention.forward(q, kv, kv, new int[] {0, 2}, new int[] {0, 3}, 1, out));
        }
        PackedAttention closed = new PackedAttention(2, 1, 16);
        closed.close();
        assertThrows(IllegalStateException.class, () -> closed.forward(new float[0], new float[0], new float[0],
                new int[] {0}, new int[] {0}, 0, new float[0]));
    }
}
