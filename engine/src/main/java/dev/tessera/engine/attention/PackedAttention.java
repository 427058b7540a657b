package dev.tessera.engine.attention;

import java.util.Objects;

/**
 * Bidirectional (non-causal), variable-length attention over packed, contiguous rows: the rows of several
 * independent spans (images, frames, DETR query sets) are concatenated with no padding, and the queries of span
 * {@code s} attend to the keys and values of span {@code s} only. Query and key spans may differ in length
 * (cross-attention from a frame's object queries to that frame's encoder memory): {@code cuQ} and {@code cuK} are
 * the cumulative row offsets ({@code cu_seqlens}) of each side.
 *
 * <p>Layouts, row-major: {@code q} and {@code out} are {@code [cuQ[spans], numHeads * headDim]}; {@code k} and
 * {@code v} are {@code [cuK[spans], numKvHeads * headDim]}; query head {@code h} reads KV head
 * {@code h / (numHeads / numKvHeads)}. Scores are scaled by {@code 1 / sqrt(headDim)}.
 *
 * <p>Not thread-safe: one caller at a time.
 */
public final class PackedAttention implements AutoCloseable {
    private final int numHeads;
    private final int numKvHeads;
    private final int headDim;
    private final float scale;
    private float[] scores = new float[64];

    /**
     * @param numHeads   query heads
     * @param numKvHeads key/value heads; {@code numHeads} must be a multiple of it
     * @param headDim    floats per head
     */
    public PackedAttention(int numHeads, int numKvHeads, int headDim) {
        if (numHeads <= 0 || numKvHeads <= 0 || numHeads % numKvHeads != 0) {
            throw new IllegalArgumentException("numHeads " + numHeads + " must be a positive multiple of numKvHeads "
                    + numKvHeads);
        }
        if (headDim <= 0) throw new IllegalArgumentException("headDim must be > 0, got " + headDim);
        this.numHeads = numHeads;
        this.numKvHeads = numKvHeads;
        this.headDim = headDim;
        this.scale = (float) (1.0 / Math.sqrt(headDim));
    }

    public int numHeads() {
        return numHeads;
    }

    public int numKvHeads() {
        return numKvHeads;
    }

    public int headDim() {
        return headDim;
    }

    /**
     * Attends every span's queries over the same span's keys.
     *
     * @param q     queries {@code [cuQ[spans], numHeads * headDim]}
     * @param k     keys {@code [cuK[spans], numKvHeads * headDim]}
     * @param v     values, same shape as {@code k}
     * @param cuQ   query row offsets, {@code spans + 1} entries from 0, non-decreasing
     * @param cuK   key row offsets, {@code spans + 1} entries from 0, non-decreasing; a span with queries needs
     *              at least one key
     * @param spans number of spans
     * @param out   receives {@code [cuQ[spans], numHeads * headDim]}
     */
    public void forward(float[] q, float[] k, float[] v, int[] cuQ, int[] cuK, int spans, float[] out) {
        Objects.requireNonNull(q, "q");
        Objects.requireNonNull(k, "k");
        Objects.requireNonNull(v, "v");
        Objects.requireNonNull(out, "out");
        check(cuQ, cuK, spans, q.length, k.length, v.length, out.length);
        int qRow = numHeads * headDim;
        int kvRow = numKvHeads * headDim;
        int group = numHeads / numKvHeads;
        for (int s = 0; s < spans; s++) {
            int k0 = cuK[s];
            int nk = cuK[s + 1] - k0;
            if (scores.length < nk) scores = new float[Math.max(nk, scores.length * 2)];
            for (int t = cuQ[s]; t < cuQ[s + 1]; t++) {
                for (int h = 0; h < numHeads; h++) {
                    int qo = t * qRow + h * headDim;
                    int kvh = (h / group) * headDim;
                    float max = Float.NEGATIVE_INFINITY;
                    for (int j = 0; j < nk; j++) {
                        int ko = (k0 + j) * kvRow + kvh;
                        float dot = 0;
                        for (int d = 0; d < headDim; d++) dot += q[qo + d] * k[ko + d];
                        scores[j] = dot * scale;
                        max = Math.max(max, scores[j]);
                    }
                    float sum = 0;
                    for (int j = 0; j < nk; j++) {
                        scores[j] = (float) Math.exp(scores[j] - max);
                        sum += scores[j];
                    }
                    float inv = 1f / sum;
                    for (int d = 0; d < headDim; d++) out[qo + d] = 0;
                    for (int j = 0; j < nk; j++) {
                        float p = scores[j] * inv;
                        int vo = (k0 + j) * kvRow + kvh;
                        for (int d = 0; d < headDim; d++) out[qo + d] += p * v[vo + d];
                    }
                }
            }
        }
    }

    private void check(int[] cuQ, int[] cuK, int spans, int qLen, int kLen, int vLen, int outLen) {
        Objects.requireNonNull(cuQ, "cuQ");
        Objects.requireNonNull(cuK, "cuK");
        if (spans < 0 || cuQ.length < spans + 1 || cuK.length < spans + 1) {
            throw new IllegalArgumentException("cuQ and cuK need spans + 1 = " + (spans + 1) + " entries");
        }
        if (cuQ[0] != 0 || cuK[0] != 0) throw new IllegalArgumentException("cuQ[0] and cuK[0] must be 0");
        for (int s = 0; s < spans; s++) {
            if (cuQ[s + 1] < cuQ[s] || cuK[s + 1] < cuK[s]) {
                throw new IllegalArgumentException("span " + s + ": offsets must not decrease");
            }
            if (cuQ[s + 1] > cuQ[s] && cuK[s + 1] == cuK[s]) {
                throw new IllegalArgumentException("span " + s + " has queries but no keys");
            }
        }
        long qNeed = (long) cuQ[spans] * numHeads * headDim;
        long kNeed = (long) cuK[spans] * numKvHeads * headDim;
        if (qLen < qNeed || outLen < qNeed) {
            throw new IllegalArgumentException("q and out need " + qNeed + " floats");
        }
        if (kLen < kNeed || vLen < kNeed) throw new IllegalArgumentException("k and v need " + kNeed + " floats");
    }

    @Override
    public void close() {
        // No threads or native memory yet; the tiled implementation shares the attention worker pool.
    }
}
