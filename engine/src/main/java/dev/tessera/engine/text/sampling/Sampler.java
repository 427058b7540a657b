package dev.tessera.engine.text.sampling;

import java.util.Arrays;

/**
 * Turns one row of logits into a token, with vLLM's semantics, in this order:
 * <ol>
 *   <li>penalties: repetition (over prompt and output tokens: positive logits divided by it, negative ones
 *       multiplied), then frequency ({@code count * penalty}) and presence (once) over output tokens;</li>
 *   <li>greedy ({@code temperature == 0}): the arg-max, lowest id on ties;</li>
 *   <li>otherwise temperature, min-p, top-k (ties at the k-th value kept), top-p (smallest most-likely set whose
 *       mass reaches p), then one draw from what is left.</li>
 * </ol>
 *
 * <p><b>Determinism.</b> The draw uses a uniform number derived only from {@code (seed, outputPosition)} by
 * SplitMix64, so a seeded sequence yields the same tokens whatever else shares its batch. Callers give each sample of
 * an {@code n > 1} request its own seed ({@code seed + index}).
 *
 * <p><b>Logprobs</b> ({@link #logprobs}) are the log-softmax of the <em>processed</em> distribution: the logits after
 * penalties and temperature (for greedy, after penalties only), before the min-p/top-k/top-p cut-offs.
 *
 * <p>One instance per scheduler loop: not thread-safe. Scratch arrays are sized to the vocabulary once; sampling
 * allocates nothing except the {@link Logprobs} result when asked for.
 */
public final class Sampler {
    private final int vocabSize;
    /** Processed logits of the last call. */
    private final float[] work;
    /** Unnormalised probabilities (relative to the maximum) of the last sampled (non-greedy) call. */
    private final double[] probs;
    /** Occurrences in the output, valid where {@code stamps[t] == stamp}. */
    private final int[] counts;
    private final int[] stamps;
    private final int[] touched;
    private final long[] sortKeys;
    private int stamp;
    /** log of the softmax normaliser of {@code work}; NaN until computed for the last call. */
    private double logZ = Double.NaN;

    public Sampler(int vocabSize) {
        if (vocabSize <= 0) throw new IllegalArgumentException("vocabSize must be > 0, got " + vocabSize);
        this.vocabSize = vocabSize;
        this.work = new float[vocabSize];
        this.probs = new double[vocabSize];
        this.counts = new int[vocabSize];
        this.stamps = new int[vocabSize];
        this.touched = new int[vocabSize];
        this.sortKeys = new long[vocabSize];
    }

    public int vocabSize() {
        return vocabSize;
    }

    /**
     * Samples the next token of one sequence.
     *
     * @param logits         logits buffer
     * @param offset         start of this sequence's row ({@code vocabSize} floats)
     * @param params         validated sampling parameters
     * @param tokens         the sequence so far: prompt then output
     * @param promptLen      tokens of {@code tokens} that are prompt
     * @param numTokens      valid entries of {@code tokens}
     * @param seed           the sample's seed
     * @param outputPosition index of the token being sampled among the output tokens (0 for the first)
     * @return the token id
     */
    public int sample(float[] logits, int offset, SamplingParams params, int[] tokens, int promptLen, int numTokens,
                      long seed, int outputPosition) {
        System.arraycopy(logits, offset, work, 0, vocabSize);
        logZ = Double.NaN;
        applyPenalties(params, tokens, promptLen, numTokens);
        if (params.greedy()) {
            return argMax();
        }
        float invT = (float) (1.0 / params.temperature());
        for (int i = 0; i < vocabSize; i++) work[i] *= invT;
        int best = argMax();
        float max = work[best];
        double sum = 0;
        for (int i = 0; i < vocabSize; i++) {
            double p = Math.exp(work[i] - max);
            probs[i] = p;
            sum += p;
        }
        logZ = max + Math.log(sum);
        // min-p: relative to the most likely token, whose unnormalised probability is 1.
        double minP = params.minP();
        if (minP > 0) {
            for (int i = 0; i < vocabSize; i++) {
                if (probs[i] < minP) probs[i] = 0;
            }
        }
        double u = uniform(seed, outputPosition);
        int topK = params.effectiveTopK();
        if ((topK == 0 || topK >= vocabSize) && params.topP() >= 1.0) {
            return drawInIdOrder(u, best);
        }
        return drawSorted(u, topK, params.topP(), best);
    }

    /**
     * Logprobs of the distribution processed by the last {@link #sample} call (see the class comment).
     *
     * @param tokenId the sampled token
     * @param topN    how many alternatives to return (0..vocabSize)
     */
    public Logprobs logprobs(int tokenId, int topN) {
        if (Double.isNaN(logZ)) {
            float max = work[argMax()];
            double sum = 0;
            for (int i = 0; i < vocabSize; i++) sum += Math.exp(work[i] - max);
            logZ = max + Math.log(sum);
        }
        int n = Math.min(topN, vocabSize);
        int[] ids = new int[n];
        float[] lps = new float[n];
        // Insertion into a small sorted list: O(vocab * n) with n <= 20.
        int filled = 0;
        for (int i = 0; i < vocabSize && n > 0; i++) {
            float v = work[i];
            if (filled == n && !(v > work[ids[n - 1]])) continue;
            int j = filled < n ? filled++ : n - 1;
            while (j > 0 && v > work[ids[j - 1]]) {
                ids[j] = ids[j - 1];
                j--;
            }
            ids[j] = i;
        }
        for (int j = 0; j < n; j++) lps[j] = (float) (work[ids[j]] - logZ);
        return new Logprobs(tokenId, (float) (work[tokenId] - logZ), ids, lps);
    }

    /** A uniform double in [0, 1) that depends only on the seed and the output position. */
    static double uniform(long seed, int outputPosition) {
        long z = mix(seed + 0x9E3779B97F4A7C15L * (outputPosition + 1L));
        z = mix(z ^ 0xD1B54A32D192ED03L);
        return (z >>> 11) * 0x1.0p-53;
    }

    /** SplitMix64's finaliser. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    private void applyPenalties(SamplingParams p, int[] tokens, int promptLen, int numTokens) {
        double rep = p.repetitionPenalty();
        double presence = p.presencePenalty();
        double frequency = p.frequencyPenalty();
        if (rep == 1.0 && presence == 0.0 && frequency == 0.0) return;
        if (++stamp == Integer.MAX_VALUE) {
            Arrays.fill(stamps, 0);
            stamp = 1;
        }
        int distinct = 0;
        int from = rep == 1.0 ? promptLen : 0; // prompt tokens matter only to the repetition penalty
        for (int i = from; i < numTokens; i++) {
            int t = tokens[i];
            if (t < 0 || t >= vocabSize) continue;
            if (stamps[t] != stamp) {
                stamps[t] = stamp;
                counts[t] = 0;
                touched[distinct++] = t;
            }
            if (i >= promptLen) counts[t]++;
        }
        for (int k = 0; k < distinct; k++) {
            int t = touched[k];
            double l = work[t];
            if (rep != 1.0) l = l > 0 ? l / rep : l * rep;
            int c = counts[t];
            if (c > 0) l -= frequency * c + presence;
            work[t] = (float) l;
        }
    }

    private int argMax() {
        int best = 0;
        float bv = work[0];
        for (int i = 1; i < vocabSize; i++) {
            float v = work[i];
            if (v > bv || (Float.isNaN(bv) && !Float.isNaN(v))) {
                bv = v;
                best = i;
            }
        }
        return best;
    }

    private int drawInIdOrder(double u, int fallback) {
        double total = 0;
        for (int i = 0; i < vocabSize; i++) total += probs[i];
        double target = u * total;
        double acc = 0;
        int last = fallback;
        for (int i = 0; i < vocabSize; i++) {
            double p = probs[i];
            if (p <= 0) continue;
            acc += p;
            last = i;
            if (acc > target) return i;
        }
        return last;
    }

    /** Top-k and top-p need the candidates by decreasing probability (lower id first on ties). */
    private int drawSorted(double u, int topK, double topP, int fallback) {
        int m = 0;
        for (int i = 0; i < vocabSize; i++) {
            double p = probs[i];
            if (p > 0) {
                // Positive floats order like their bit patterns; the low word breaks ties by lower id.
                sortKeys[m++] = ((long) Float.floatToRawIntBits((float) p) << 32) | (vocabSize - 1 - i);
            }
        }
        if (m == 0) return fallback;
        Arrays.sort(sortKeys, 0, m);
        // Descending order is sortKeys[m-1], sortKeys[m-2], ...
        int keep = m;
        if (topK > 0 && topK < m) {
            int kthBits = (int) (sortKeys[m - topK] >>> 32);
            keep = topK;
            while (keep < m && (int) (sortKeys[m - 1 - keep] >>> 32) == kthBits) keep++; // ties at the k-th value
        }
        double total = 0;
        for (int j = 0; j < keep; j++) total += probs[idAt(m, j)];
        if (topP < 1.0) {
            double acc = 0;
            int nucleus = 0;
            while (nucleus < keep && acc < topP * total) {
                acc += probs[idAt(m, nucleus)];
                nucleus++;
            }
            keep = Math.max(1, nucleus);
            total = acc > 0 ? acc : probs[idAt(m, 0)];
        }
        double target = u * total;
        double acc = 0;
        for (int j = 0; j < keep; j++) {
            int id = idAt(m, j);
            acc += probs[id];
            if (acc > target) return id;
        }
        return idAt(m, keep - 1);
    }

    private int idAt(int m, int rank) {
        return vocabSize - 1 - (int) (sortKeys[m - 1 - rank] & 0xFFFFFFFFL);
    }
}
