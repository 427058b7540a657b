package dev.tessera.engine.text.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SamplerTest {
    private static final int[] NO_TOKENS = new int[0];

    private static float[] logitsOf(double... probs) {
        float[] l = new float[probs.length];
        for (int i = 0; i < probs.length; i++) l[i] = probs[i] == 0 ? Float.NEGATIVE_INFINITY : (float) Math.log(probs[i]);
        return l;
    }

    private static int[] histogram(Sampler s, float[] logits, SamplingParams p, int draws) {
        int[] h = new int[logits.length];
        for (int pos = 0; pos < draws; pos++) h[s.sample(logits, 0, p, NO_TOKENS, 0, 0, 42L, pos)]++;
        return h;
    }

    @Test
    void greedyPicksArgMaxAndLowestIdOnTies() {
        Sampler s = new Sampler(5);
        float[] l = {0.1f, 3f, -1f, 3f, 2f};
        assertEquals(1, s.sample(l, 0, SamplingParams.greedy(4), NO_TOKENS, 0, 0, 0, 0));
    }

    @Test
    void readsTheRowAtTheOffset() {
        Sampler s = new Sampler(3);
        float[] l = {9f, 0f, 0f, 0f, 0f, 9f};
        assertEquals(2, s.sample(l, 3, SamplingParams.greedy(4), NO_TOKENS, 0, 0, 0, 0));
    }

    @Test
    void repetitionPenaltyCoversPromptAndOutputAndDividesPositiveMultipliesNegative() {
        Sampler s = new Sampler(4);
        SamplingParams p = SamplingParams.builder().repetitionPenalty(2.0).logprobs(4).build();
        // token 0 (prompt) logit 4 -> 2, token 1 (output) logit -1 -> -2; token 2 unseen logit 3 stays.
        float[] l = {4f, -1f, 3f, 0f};
        int[] tokens = {0, 1};
        assertEquals(2, s.sample(l, 0, p, tokens, 1, 2, 0, 0));
        Logprobs lp = s.logprobs(2, 4);
        assertArrayEquals(new int[] {2, 0, 3, 1}, lp.topIds());
        double z = Math.log(Math.exp(2) + Math.exp(-2) + Math.exp(3) + Math.exp(0));
        assertEquals(2 - z, lp.topLogprobs()[1], 1e-5);
        assertEquals(-2 - z, lp.topLogprobs()[3], 1e-5);
    }

    @Test
    void presenceAndFrequencyPenaltiesCountOutputTokensOnly() {
        Sampler s = new Sampler(3);
        SamplingParams p = SamplingParams.builder().presencePenalty(0.5).frequencyPenalty(1.0).build();
        // prompt: token 0 twice (no effect); output: token 1 twice -> 5 - (2*1 + 0.5) = 2.5 < token 0 (4).
        float[] l = {4f, 5f, 3.9f};
        int[] tokens = {0, 0, 1, 1};
        assertEquals(0, s.sample(l, 0, p, tokens, 2, 4, 0, 0));
        Logprobs lp = s.logprobs(0, 3);
        assertArrayEquals(new int[] {0, 2, 1}, lp.topIds());
        // Scratch state does not leak into the next call.
        assertEquals(1, s.sample(l, 0, p, tokens, 4, 4, 0, 0));
    }

    @Test
    void seededDrawDependsOnlyOnSeedAndPosition() {
        Sampler a = new Sampler(50);
        Sampler b = new Sampler(50);
        float[] l = new float[50];
        for (int i = 0; i < 50; i++) l[i] = (float) Math.sin(i);
        SamplingParams p = SamplingParams.builder().temperature(1.0).build();
        Set<Integer> seen = new HashSet<>();
        for (int pos = 0; pos < 40; pos++) {
            int x = a.sample(l, 0, p, NO_TOKENS, 0, 0, 7L, pos);
            // interleave unrelated work on b before the same draw
            b.sample(l, 0, p, NO_TOKENS, 0, 0, 99L, pos + 1000);
            assertEquals(x, b.sample(l, 0, p, NO_TOKENS, 0, 0, 7L, pos));
            seen.add(x);
        }
        assertTrue(seen.size() > 5, "draws vary with position");
        int differ = 0;
        for (int pos = 0; pos < 40; pos++) {
            if (a.sample(l, 0, p, NO_TOKENS, 0, 0, 7L, pos) != a.sample(l, 0, p, NO_TOKENS, 0, 0, 8L, pos)) differ++;
        }
        assertTrue(differ > 10, "draws vary with the seed");
    }

    @Test
    void samplesFollowTheDistribution() {
        Sampler s = new Sampler(3);
        float[] l = logitsOf(0.5, 0.3, 0.2);
        int[] h = histogram(s, l, SamplingParams.builder().temperature(1.0).build(), 20_000);
        assertEquals(0.5, h[0] / 20_000.0, 0.02);
        assertEquals(0.3, h[1] / 20_000.0, 0.02);
        assertEquals(0.2, h[2] / 20_000.0, 0.02);
    }

    @Test
    void temperatureSharpensAndFlattens() {
        Sampler s = new Sampler(2);
        float[] l = logitsOf(0.6, 0.4);
        int[] cold = histogram(s, l, SamplingParams.builder().temperature(0.1).build(), 5_000);
        int[] hot = histogram(s, l, SamplingParams.builder().temperature(10).build(), 5_000);
        assertTrue(cold[0] > 4_900, "T=0.1 almost always picks the mode");
        assertEquals(0.5, hot[0] / 5_000.0, 0.04);
    }

    @Test
    void topKKeepsTheKMostLikely() {
        Sampler s = new Sampler(4);
        float[] l = logitsOf(0.1, 0.4, 0.2, 0.3);
        int[] h = histogram(s, l, SamplingParams.builder().temperature(1.0).topK(2).build(), 5_000);
        assertEquals(0, h[0]);
        assertEquals(0, h[2]);
        assertEquals(0.4 / 0.7, h[1] / 5_000.0, 0.03);
        int[] one = histogram(s, l, SamplingParams.builder().temperature(1.0).topK(1).build(), 500);
        assertEquals(500, one[1]);
        int[] off = histogram(s, l, SamplingParams.builder().temperature(1.0).topK(-1).build(), 5_000);
        assertTrue(off[0] > 0 && off[2] > 0);
    }

    @Test
    void topPKeepsTheSmallestNucleus() {
        Sampler s = new Sampler(3);
        float[] l = logitsOf(0.5, 0.3, 0.2);
        int[] h = histogram(s, l, SamplingParams.builder().temperature(1.0).topP(0.6).build(), 5_000);
        assertEquals(0, h[2]);
        assertEquals(0.5 / 0.8, h[0] / 5_000.0, 0.03);
        int[] only = histogram(s, l, SamplingParams.builder().temperature(1.0).topP(0.5).build(), 500);
        assertEquals(500, only[0]);
    }

    @Test
    void minPDropsTokensBelowAFractionOfTheMode() {
        Sampler s = new Sampler(3);
        float[] l = logitsOf(0.5, 0.3, 0.2);
        // threshold 0.5 * 0.5 = 0.25: token 2 (0.2) goes.
        int[] h = histogram(s, l, SamplingParams.builder().temperature(1.0).minP(0.5).build(), 5_000);
        assertEquals(0, h[2]);
        assertEquals(0.5 / 0.8, h[0] / 5_000.0, 0.03);
    }

    @Test
    void logprobsAreTheLogSoftmaxOfTheTemperedLogits() {
        Sampler s = new Sampler(4);
        float[] l = {1f, 2f, 0f, -1f};
        SamplingParams p = SamplingParams.builder().temperature(0.5).seed(3L).build();
        int t = s.sample(l, 0, p, NO_TOKENS, 0, 0, 3L, 0);
        Logprobs lp = s.logprobs(t, 2);
        double z = 0;
        for (float v : l) z += Math.exp(v / 0.5);
        assertEquals(t, lp.tokenId());
        assertEquals(l[t] / 0.5 - Math.log(z), lp.logprob(), 1e-5);
        assertArrayEquals(new int[] {1, 0}, lp.topIds());
        assertEquals(4 - Math.log(z), lp.topLogprobs()[0], 1e-5);
        assertNotEquals(lp.topLogprobs()[0], lp.topLogprobs()[1]);
    }

    @Test
    void uniformIsInRange() {
        for (int i = 0; i < 1000; i++) {
            double u = Sampler.uniform(i * 31L, i);
            assertTrue(u >= 0 && u < 1);
        }
    }
}
