package dev.tessera.engine.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.engine.text.runtime.StepBatch;
import dev.tessera.kvcache.KvCacheSpec;
import dev.tessera.kvcache.KvDType;
import dev.tessera.kvcache.KvStore;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

class PagedAttentionTest {
    private static final double TOLERANCE = 1e-4;

    /** A sequence in a step: {@code cached} tokens already in the cache, {@code fresh} new ones. */
    private record Seq(int cached, int fresh) {
        int context() { return cached + fresh; }
    }

    /** The sequences of one test step, with contiguous K/V of every position for the reference. */
    private static final class Fixture {
        final KvCacheSpec spec;
        final int numHeads;
        final List<Seq> seqs;
        final KvStore store;
        final StepBatch batch;
        final float[][] k; // per sequence [pos][kvHead][d]
        final float[][] v;
        final float[] q;

        Fixture(KvCacheSpec spec, int numHeads, List<Seq> seqs, long seed) {
            this.spec = spec;
            this.numHeads = numHeads;
            this.seqs = seqs;
            Random rnd = new Random(seed);
            int bs = spec.blockSize();
            int kvFloats = spec.numKvHeads() * spec.headDim();
            int blocksTotal = 0;
            int maxBlocks = 1;
            int tokens = 0;
            for (Seq s : seqs) {
                int nb = (s.context() + bs - 1) / bs;
                blocksTotal += nb;
                maxBlocks = Math.max(maxBlocks, nb);
                tokens += s.fresh();
            }
            store = new KvStore(spec, blocksTotal + 3);
            List<Integer> free = new ArrayList<>();
            for (int b = 0; b < blocksTotal + 3; b++) free.add(b);
            Collections.shuffle(free, rnd); // blocks of a sequence are scattered
            batch = new StepBatch(tokens, seqs.size(), maxBlocks);
            batch.clear();
            k = new float[seqs.size()][];
            v = new float[seqs.size()][];
            int layer = spec.numLayers() - 1;
            for (int si = 0; si < seqs.size(); si++) {
                Seq s = seqs.get(si);
                int nb = (s.context() + bs - 1) / bs;
                int[] table = new int[nb];
                for (int i = 0; i < nb; i++) table[i] = free.remove(free.size() - 1);
                k[si] = random(rnd, s.context() * kvFloats, 1f);
                v[si] = random(rnd, s.context() * kvFloats, 1f);
                for (int pos = 0; pos < s.context(); pos++) {
                    int slot = table[pos / bs] * bs + pos % bs;
                    store.write(layer, slot, k[si], pos * kvFloats, v[si], pos * kvFloats);
                }
                batch.addSequence(new int[s.context()], s.cached(), s.fresh(), table, nb, bs, true);
            }
            q = random(rnd, tokens * numHeads * spec.headDim(), 2f);
        }

        /** Naive causal softmax attention in double precision. */
        float[] reference() {
            int d = spec.headDim();
            int g = numHeads / spec.numKvHeads();
            int kvFloats = spec.numKvHeads() * d;
            float[] out = new float[q.length];
            double scale = 1.0 / Math.sqrt(d);
            int row = 0;
            for (int si = 0; si < seqs.size(); si++) {
                Seq s = seqs.get(si);
                for (int t = 0; t < s.fresh(); t++, row++) {
                    int pos = s.cached() + t;
                    for (int h = 0; h < numHeads; h++) {
                        int kvh = h / g;
                        double[] w = new double[pos + 1];
                        double max = Double.NEGATIVE_INFINITY;
                        for (int j = 0; j <= pos; j++) {
                            double dot = 0;
                            for (int i = 0; i < d; i++) {
                                dot += q[(row * numHeads + h) * d + i] * k[si][j * kvFloats + kvh * d + i];
                            }
                            w[j] = dot * scale;
                            max = Math.max(max, w[j]);
                        }
                        double sum = 0;
                        for (int j = 0; j <= pos; j++) sum += (w[j] = Math.exp(w[j] - max));
                        for (int i = 0; i < d; i++) {
                            double o = 0;
                            for (int j = 0; j <= pos; j++) o += w[j] * v[si][j * kvFloats + kvh * d + i];
                            out[(row * numHeads + h) * d + i] = (float) (o / sum);
                        }
                    }
                }
            }
            return out;
        }
    }

    private static float[] random(Random rnd, int n, float range) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (rnd.nextFloat() * 2 - 1) * range;
        return a;
    }

    private static double maxAbsDiff(float[] a, float[] b, int n) {
        double m = 0;
        for (int i = 0; i < n; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }

    /** Mixed batch: a fresh prefill longer than one work item, decodes, a chunk after cached context, tiny ones. */
    private static List<Seq> mixedBatch() {
        return List.of(new Seq(0, 37), new Seq(99, 1), new Seq(20, 30), new Seq(0, 1), new Seq(5, 1),
                new Seq(48, 1), new Seq(33, 17));
    }

    static Stream<Arguments> shapes() {
        List<Arguments> a = new ArrayList<>();
        for (int blockSize : new int[] {16, 1, 7}) {
            for (int headDim : new int[] {32, 64, 128}) {
                for (int ratio : new int[] {1, 2, 4}) {
                    a.add(Arguments.of(blockSize, headDim, ratio));
                }
            }
        }
        return a.stream();
    }

    @ParameterizedTest(name = "block {0}, head dim {1}, GQA {2}")
    @MethodSource("shapes")
    void matchesNaiveAttentionOnMixedBatches(int blockSize, int headDim, int ratio) {
        KvCacheSpec spec = new KvCacheSpec(2, 2, headDim, blockSize);
        int numHeads = 2 * ratio;
        Fixture f = new Fixture(spec, numHeads, mixedBatch(), 31L * blockSize + headDim + ratio);
        float[] out = new float[f.q.length];
        try (PagedAttention attention = new PagedAttention(spec, numHeads, 2)) {
            attention.forward(1, f.q, out, f.batch, f.store);
            double err = maxAbsDiff(out, f.reference(), out.length);
            assertTrue(err <= TOLERANCE, "max abs error " + err);
            // a second call on the same instance (reused scratch, items, workers) gives the same answer
            float[] again = new float[out.length];
            attention.forward(1, f.q, again, f.batch, f.store);
            assertEquals(0.0, maxAbsDiff(out, again, out.length));
        }
    }

    @Test
    void longPrefillAfterCachedContextWithOddHeadDim() {
        KvCacheSpec spec = new KvCacheSpec(1, 3, 20, 5); // head dim not a multiple of the vector length
        Fixture f = new Fixture(spec, 6, List.of(new Seq(123, 70), new Seq(0, 3), new Seq(300, 1)), 7);
        float[] out = new float[f.q.length];
        try (PagedAttention attention = new PagedAttention(spec, 6, 3)) {
            attention.forward(0, f.q, out, f.batch, f.store);
        }
        assertTrue(maxAbsDiff(out, f.reference(), out.length) <= TOLERANCE);
    }

    @Test
    void singleThreadAndManyThreadsAgree() {
        KvCacheSpec spec = new KvCacheSpec(1, 2, 64, 16);
        Fixture f = new Fixture(spec, 8, mixedBatch(), 3);
        float[] one = new float[f.q.length];
        float[] many = new float[f.q.length];
        try (PagedAttention a = new PagedAttention(spec, 8, 1); PagedAttention b = new PagedAttention(spec, 8, 4)) {
            a.forward(0, f.q, one, f.batch, f.store);
            b.forward(0, f.q, many, f.batch, f.store);
        }
        assertEquals(0.0, maxAbsDiff(one, many, one.length)); // each row is computed the same way by any thread
    }

    @Test
    void largeScoresStayFinite() {
        KvCacheSpec spec = new KvCacheSpec(1, 1, 32, 16);
        Fixture f = new Fixture(spec, 2, List.of(new Seq(60, 4)), 11);
        for (int i = 0; i < f.q.length; i++) f.q[i] *= 40f; // scores in the hundreds: needs the running max
        float[] out = new float[f.q.length];
        try (PagedAttention attention = new PagedAttention(spec, 2, 2)) {
            attention.forward(0, f.q, out, f.batch, f.store);
        }
        assertTrue(maxAbsDiff(out, f.reference(), out.length) <= TOLERANCE);
    }

    @Test
    void aFailingStepThrowsAndTheNextStepStillWorks() {
        KvCacheSpec spec = new KvCacheSpec(1, 2, 32, 4);
        Fixture f = new Fixture(spec, 4, List.of(new Seq(10, 1), new Seq(3, 2), new Seq(7, 1)), 5);
        StepBatch bad = new StepBatch(4, 3, 3);
        bad.clear();
        int[] table = {0, 1, 999}; // a block the store does not have
        for (int s = 0; s < 3; s++) bad.addSequence(new int[12], 10, 1, table, 3, 4, true);
        float[] out = new float[f.q.length];
        try (PagedAttention attention = new PagedAttention(spec, 4, 2)) {
            assertThrows(IndexOutOfBoundsException.class, () -> attention.forward(0, f.q, out, bad, f.store));
            attention.forward(0, f.q, out, f.batch, f.store);
            assertTrue(maxAbsDiff(out, f.reference(), out.length) <= TOLERANCE);
        }
    }

    @Test
    void rejectsBadArguments() {
        KvCacheSpec spec = new KvCacheSpec(1, 2, 32, 16);
        assertThrows(IllegalArgumentException.class, () -> new PagedAttention(spec, 3, 1));
        Fixture f = new Fixture(spec, 2, List.of(new Seq(0, 4)), 1);
        try (PagedAttention attention = new PagedAttention(spec, 2, 1)) {
            assertThrows(IllegalArgumentException.class,
                    () -> attention.forward(0, new float[3], new float[f.q.length], f.batch, f.store));
            assertThrows(IndexOutOfBoundsException.class,
                    () -> attention.forward(1, f.q, new float[f.q.length], f.batch, f.store));
        }
    }

    /**
     * Shapes for the many-row (prefill) path: odd token counts (rows not a multiple of the vector length or of 4),
     * tiles whose key count is not a multiple of the vector length, head dims that are not multiples of the lanes,
     * chunks after cached context, next to decodes that keep the few-row path.
     */
    static Stream<Arguments> prefillShapes() {
        List<Arguments> a = new ArrayList<>();
        int[][] shapes = { // block size, head dim, KV heads, GQA ratio
            {16, 64, 2, 4}, {16, 64, 1, 1}, {7, 20, 2, 2}, {1, 32, 1, 3}, {5, 128, 2, 2}, {16, 48, 1, 8}, {3, 72, 2, 1},
        };
        for (int[] s : shapes) a.add(Arguments.of(s[0], s[1], s[2], s[3]));
        return a.stream();
    }

    @ParameterizedTest(name = "block {0}, head dim {1}, {2} KV heads, GQA {3}")
    @MethodSource("prefillShapes")
    void manyRowPrefillMatchesNaiveAttention(int blockSize, int headDim, int kvHeads, int ratio) {
        KvCacheSpec spec = new KvCacheSpec(1, kvHeads, headDim, blockSize);
        int numHeads = kvHeads * ratio;
        List<Seq> seqs = new ArrayList<>();
        for (int fresh : new int[] {1, 2, 3, 5, 8, 9, 13, 16, 17, 31, 33, 47, 70}) seqs.add(new Seq(0, fresh));
        seqs.add(new Seq(61, 19)); // a chunk after cached context, crossing tile boundaries
        seqs.add(new Seq(130, 7));
        seqs.add(new Seq(77, 1)); // a decode next to them
        Fixture f = new Fixture(spec, numHeads, seqs, 1000L + 31L * blockSize + headDim + ratio);
        float[] out = new float[f.q.length];
        try (PagedAttention attention = new PagedAttention(spec, numHeads, 2)) {
            attention.forward(0, f.q, out, f.batch, f.store);
            double err = maxAbsDiff(out, f.reference(), out.length);
            assertTrue(err <= TOLERANCE, "max abs error " + err);
        }
    }

    @Test
    void manyRowPathKeepsLargeScoresFiniteAcrossTiles() {
        KvCacheSpec spec = new KvCacheSpec(1, 1, 32, 16);
        Fixture f = new Fixture(spec, 4, List.of(new Seq(200, 40), new Seq(0, 150)), 13);
        for (int i = 0; i < f.q.length; i++) f.q[i] *= 40f; // the running max moves by hundreds between tiles
        float[] out = new float[f.q.length];
        try (PagedAttention attention = new PagedAttention(spec, 4, 1)) {
            attention.forward(0, f.q, out, f.batch, f.store);
        }
        double err = maxAbsDiff(out, f.reference(), out.length);
        assertTrue(err <= TOLERANCE, "max abs error " + err);
    }

    @Test
    void keysARowMayNotSeeContributeNothing() {
        // future keys with huge values: any leak past a row's causal limit would show in its output
        KvCacheSpec spec = new KvCacheSpec(1, 1, 16, 4);
        Fixture f = new Fixture(spec, 4, List.of(new Seq(0, 37)), 17);
        for (int pos = 20; pos < 37; pos++) {
            float[] k = new float[16];
            float[] v = new float[16];
            java.util.Arrays.fill(k, 1e3f);
            java.util.Arrays.fill(v, 1e6f);
            int[] table = f.batch.blockTables;
            int slot = table[f.batch.blockTableOffset(0) + pos / 4] * 4 + pos % 4;
            f.store.write(0, slot, k, 0, v, 0);
        }
        float[] out = new float[f.q.length];
        try (PagedAttention attention = new PagedAttention(spec, 4, 1)) {
            attention.forward(0, f.q, out, f.batch, f.store);
        }
        float[] ref = f.reference();
        int rowsBefore = 20 * 4 * 16; // tokens 0..19 never see the poisoned keys
        double err = maxAbsDiff(out, ref, rowsBefore);
        assertTrue(err <= TOLERANCE, "max abs error " + err);
    }

    static Stream<Arguments> halfShapes() {
        List<Arguments> a = new ArrayList<>();
        for (KvDType dtype : new KvDType[] {KvDType.BF16, KvDType.FP16, KvDType.INT8}) {
            for (int blockSize : new int[] {16, 1, 7}) {
                for (int headDim : new int[] {20, 64, 128}) {
                    for (int ratio : new int[] {1, 4}) a.add(Arguments.of(dtype, blockSize, headDim, ratio));
                }
            }
        }
        return a.stream();
    }

    /**
     * A 16-bit cache widens its tiles exactly (an int8 cache dequantizes them, one product per element, as
     * {@link KvStore#key} reads them), so the kernel over it gives bit for bit what the fp32 kernel gives over an
     * fp32 cache holding the same rounded values, on decodes and prefill chunks, in both modes: every invariance of
     * the fp32 kernel (batch, thread, row) carries over to each dtype.
     */
    @ParameterizedTest(name = "{0}, block {1}, head dim {2}, GQA {3}")
    @MethodSource("halfShapes")
    void aHalfCacheGivesTheFp32KernelsBitsOnTheRoundedValues(KvDType dtype, int blockSize, int headDim, int ratio) {
        KvCacheSpec half = new KvCacheSpec(2, 2, headDim, blockSize, dtype);
        KvCacheSpec fp32 = half.withDtype(KvDType.FP32);
        int numHeads = 2 * ratio;
        Fixture f = new Fixture(half, numHeads, mixedBatch(), 77L * blockSize + headDim + ratio);
        KvStore wide = new KvStore(fp32, f.store.numBlocks());
        int layer = half.numLayers() - 1;
        float[] wk = wide.keys(layer);
        float[] wv = wide.values(layer);
        for (int i = 0; i < wk.length; i++) {
            wk[i] = f.store.key(layer, i);
            wv[i] = f.store.value(layer, i);
        }
        for (boolean invariant : new boolean[] {false, true}) {
            float[] out16 = new float[f.q.length];
            float[] out32 = new float[f.q.length];
            try (PagedAttention a = new PagedAttention(half, numHeads, 2).rowInvariant(invariant);
                 PagedAttention b = new PagedAttention(fp32, numHeads, 2).rowInvariant(invariant)) {
                a.forward(layer, f.q, out16, f.batch, f.store);
                b.forward(layer, f.q, out32, f.batch, wide);
            }
            assertArrayEquals(out32, out16, dtype.key() + (invariant ? ", row-invariant" : ""));
            // and the rounding moves the output by about the format's precision: V's rounding alone moves an output
            // (a convex mix of |v| <= 1) by up to 2^-9 (bf16) or 2^-12 (fp16), the keys' rounding moves each score
            // by about as much relative to it; the bounds are 10x those, far under an error of the kernel itself.
            // int8 moves each element by up to 1/254 of its vector's largest (about 1): measured 0.0038 to 0.0066,
            // and it shares bf16's bound, 3x that
            double err = maxAbsDiff(out16, f.reference(), out16.length);
            assertTrue(err <= (dtype == KvDType.FP16 ? 3e-3 : 2e-2), dtype.key() + ": max abs error " + err);
        }
    }
}
