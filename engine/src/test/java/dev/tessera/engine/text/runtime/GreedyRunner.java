package dev.tessera.engine.text.runtime;

import dev.tessera.engine.text.model.ModelInfo;
import dev.tessera.kvcache.KvStore;

import java.util.Arrays;

/**
 * A minimal greedy generation loop over {@link StepBatch} for tests: each sequence gets its own fixed run of
 * blocks; steps can pack several sequences (prefill chunks and decodes together).
 */
final class GreedyRunner {
    final ModelExecutor executor;
    final int blockSize;
    final int blocksPerSeq;
    final StepBatch batch;
    final float[] logits;
    final int vocab;

    GreedyRunner(ModelExecutor executor, KvStore store, int maxTokens, int maxSeqs) {
        this.executor = executor;
        this.blockSize = store.spec().blockSize();
        this.blocksPerSeq = store.numBlocks() / maxSeqs;
        this.batch = new StepBatch(maxTokens, maxSeqs, blocksPerSeq);
        ModelInfo info = executor.info();
        this.vocab = info.vocabSize();
        this.logits = new float[maxSeqs * vocab];
    }

    int[] table(int seqSlot) {
        int[] t = new int[blocksPerSeq];
        for (int i = 0; i < blocksPerSeq; i++) t[i] = seqSlot * blocksPerSeq + i;
        return t;
    }

    /** Prefills {@code prompt} in one step in sequence slot 0 and returns the last position's logits. */
    float[] prefill(int[] prompt) {
        batch.clear();
        batch.addSequence(prompt, 0, prompt.length, table(0), blocksPerSeq, blockSize, true);
        executor.execute(batch, logits);
        return Arrays.copyOf(logits, vocab);
    }

    /** Greedy: prefill then {@code n} decode steps, alone in slot 0. Returns the n generated ids. */
    int[] generate(int[] prompt, int n) {
        int[] tokens = Arrays.copyOf(prompt, prompt.length + n);
        int len = prompt.length;
        float[] last = prefill(prompt);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = argmax(last, 0, vocab);
            tokens[len++] = out[i];
            if (i + 1 == n) break;
            batch.clear();
            batch.addSequence(tokens, len - 1, 1, table(0), blocksPerSeq, blockSize, true);
            executor.execute(batch, logits);
            last = Arrays.copyOf(logits, vocab);
        }
        return out;
    }

    static int argmax(float[] a, int from, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (a[from + i] > a[from + best]) best = i;
        return best;
    }
}
