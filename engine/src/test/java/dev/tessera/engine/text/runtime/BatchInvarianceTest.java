package dev.tessera.engine.text.runtime;

import dev.tessera.engine.attention.PagedAttention;
import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.text.convert.SegmentConverter;
import dev.tessera.engine.text.model.ModelConfig;
import dev.tessera.engine.text.model.ModelInfo;
import dev.tessera.kvcache.KvCacheSpec;
import dev.tessera.kvcache.KvDType;
import dev.tessera.kvcache.KvStore;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Batch invariance at the executor level: the logits of a sequence are the same whether its tokens run alone or
 * packed with other sequences' prefill chunks and decode tokens in one step.
 */
class BatchInvarianceTest {
    static final int MAX_TOKENS = 128;
    static final int MAX_SEQS = 4;

    @TempDir
    Path cache;

    /**
     * One sequence's plan: its tokens, the chunk sizes it is fed in (one per step, 0 = not scheduled) and whether
     * each chunk asks for logits.
     */
    record Plan(int[] tokens, int[] chunks, boolean[] wants) {
    }

    @ParameterizedTest
    @EnumSource(KvDType.class)
    void packedStepsGiveTheLogitsOfEachSequenceAlone(KvDType dtype) {
        Path dir = ConformanceTest.FIXTURES.resolve("llama-gqa");
        ModelConfig config = ModelConfig.load(dir);
        SegmentConverter.Converted graphs;
        try (Checkpoint ck = Checkpoint.open(dir)) {
            graphs = new SegmentConverter(ck, config).convert(cache);
        }
        ModelInfo info = config.toInfo("llama-gqa", 0);
        KvCacheSpec spec = new KvCacheSpec(info.numLayers(), info.numKvHeads(), info.headDim(), 4, dtype);
        Random random = new Random(7);
        // Steps: A prefills 23 then decodes; B prefills 40 in chunks 10+30 (chunk 1 without logits) then decodes;
        // C starts later, with one decode interleaved. The chunk sizes fix what shares each step.
        List<Plan> plans = List.of(
                new Plan(randomTokens(random, 27, info.vocabSize()), new int[] {23, 1, 1, 1, 1},
                        new boolean[] {true, true, true, true, true}),
                new Plan(randomTokens(random, 43, info.vocabSize()), new int[] {10, 30, 1, 1, 1},
                        new boolean[] {false, true, true, true, true}),
                new Plan(randomTokens(random, 10, info.vocabSize()), new int[] {0, 7, 1, 1, 1},
                        new boolean[] {false, true, true, true, true}));

        float[][][] alone = new float[plans.size()][][];
        for (int s = 0; s < plans.size(); s++) {
            alone[s] = run(graphs, info, spec, List.of(plans.get(s)), s)[0];
        }
        float[][][] packed = run(graphs, info, spec, plans, 0);
        int exact = 0;
        int compared = 0;
        for (int s = 0; s < plans.size(); s++) {
            for (int step = 0; step < plans.get(s).chunks().length; step++) {
                if (alone[s][step] == null) continue;
                compared++;
                float[] a = alone[s][step];
                float[] p = packed[s][step];
                double maxErr = 0;
                for (int i = 0; i < a.length; i++) maxErr = Math.max(maxErr, Math.abs(a[i] - p[i]));
                if (Arrays.equals(a, p)) exact++;
                assertTrue(maxErr <= 1e-5, "sequence " + s + " step " + step + ": max abs diff " + maxErr);
                assertEquals(GreedyRunner.argmax(a, 0, a.length), GreedyRunner.argmax(p, 0, p.length));
            }
        }
        System.out.printf("batch invariance (%s KV): %d of %d logit rows bit-identical%n", dtype.key(), exact,
                compared);
        assertEquals(13, compared);
    }

    /**
     * Runs the plans together, step by step (a chunk of 0 means "not in this step"); sequence {@code s} uses blocks
     * of slot {@code firstSlot + s}. Returns logits[seq][step] (null where a step asked for none).
     */
    private float[][][] run(SegmentConverter.Converted graphs, ModelInfo info, KvCacheSpec spec, List<Plan> plans,
                            int firstSlot) {
        int blocksPerSeq = 16;
        KvStore store = new KvStore(spec, blocksPerSeq * MAX_SEQS);
        int steps = plans.get(0).chunks().length;
        float[][][] out = new float[plans.size()][steps][];
        try (OrtModelExecutor ex = new OrtModelExecutor(info, graphs.segments(), store,
                new PagedAttention(spec, info.numHeads(), 2), MAX_TOKENS, MAX_SEQS, 1)) {
            StepBatch batch = new StepBatch(MAX_TOKENS, MAX_SEQS, blocksPerSeq);
            float[] logits = new float[MAX_SEQS * info.vocabSize()];
            int[] done = new int[plans.size()];
            for (int step = 0; step < steps; step++) {
                batch.clear();
                List<Integer> wanting = new ArrayList<>();
                for (int s = 0; s < plans.size(); s++) {
                    Plan p = plans.get(s);
                    int n = p.chunks()[step];
                    if (n == 0) continue;
                    int slot = firstSlot + s;
                    int[] table = new int[blocksPerSeq];
                    for (int b = 0; b < blocksPerSeq; b++) table[b] = slot * blocksPerSeq + b;
                    boolean want = p.wants()[step];
                    batch.addSequence(p.tokens(), done[s], n, table, blocksPerSeq, spec.blockSize(), want);
                    if (want) wanting.add(s);
                    done[s] += n;
                }
                ex.execute(batch, logits);
                for (int r = 0; r < wanting.size(); r++) {
                    out[wanting.get(r)][step] = Arrays.copyOfRange(logits, r * info.vocabSize(),
                            (r + 1) * info.vocabSize());
                }
                assertEquals(0, ex.openNativeTensors());
            }
        }
        return out;
    }

    private static int[] randomTokens(Random r, int n, int vocab) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = 3 + r.nextInt(vocab - 3);
        return t;
    }
}
